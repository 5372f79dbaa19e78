"""Port of web-platform-tests webrtc/RTCPeerConnection-perfect-negotiation-helper.js.

The WPT helper runs one peer at top level and one in an iframe, talking by postMessage; each
peer implements the W3C perfect-negotiation pattern with its own asserts, reported as failures.
Here both peers live in one event loop; a message is delivered as its own task, like a
postMessage event, and each message handler runs concurrently with the others (JS async event
handlers are not serialised: the peer connection's operations chain is what orders them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCSessionDescription

from .harness import EVENT_TIMEOUT, make_pc, next_event


class Peer:
    """One side of the WPT helper's peer(): the pattern, and commands the test runs in it."""

    def __init__(self, name: str, polite: bool) -> None:
        self.name = name
        self.polite = polite
        self.pc = make_pc()
        self.other: Peer | None = None
        self.failures: list[str] = []
        self.making_offer = False
        self.ignore_candidate_failures = False
        self.srd_answer_pending = False
        self.tasks: set[asyncio.Task[Any]] = set()
        self.pc.on("negotiationneeded", lambda: self._spawn(self._on_negotiationneeded()))
        self.pc.on("icecandidate", lambda candidate=None: self.send({"candidate": candidate}))

    # the WPT helper's assert_equals/fail: reported, never raised inside a handler
    def check(self, actual: Any, expected: Any, message: str) -> None:
        if actual != expected:
            self.failures.append(f"{self.name}: {message}: expected {expected!r} but got {actual!r}")

    def fail(self, exc: BaseException) -> None:
        self.failures.append(f"{self.name}: {type(exc).__name__}: {exc}")

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def send(self, message: dict[str, Any]) -> None:
        assert self.other is not None
        other = self.other
        asyncio.get_running_loop().call_soon(lambda: other._spawn(other._on_message(message)))

    async def _on_negotiationneeded(self) -> None:
        try:
            self.check(self.pc.signalingState, "stable", "negotiationneeded always fires in stable state")
            self.check(self.making_offer, False, "negotiationneeded not already in progress")
            self.making_offer = True
            await self.pc.setLocalDescription()
            self.check(self.pc.signalingState, "have-local-offer", "negotiationneeded not racing with onmessage")
            self.check(self.pc.localDescription.type, "offer", "negotiationneeded SLD worked")
            self.send({"description": self.pc.localDescription})
        except Exception as exc:
            self.fail(exc)
        finally:
            self.making_offer = False

    async def _on_message(self, message: dict[str, Any]) -> None:
        try:
            description: RTCSessionDescription | None = message.get("description")
            if description is not None:
                # an answer about to be applied makes us stable before this offer is handled
                stable = self.pc.signalingState == "stable" or (
                    self.pc.signalingState == "have-local-offer" and self.srd_answer_pending
                )
                ignore_offer = (
                    description.type == "offer" and not self.polite and (self.making_offer or not stable)
                )
                if ignore_offer:
                    self.ignore_candidate_failures = True
                    return
                if description.type == "answer":
                    self.srd_answer_pending = True
                await self.pc.setRemoteDescription(description)
                self.srd_answer_pending = False
                if description.type == "offer":
                    self.check(self.pc.signalingState, "have-remote-offer", "Remote offer")
                    self.check(self.pc.remoteDescription.type, "offer", "SRD worked")
                    await self.pc.setLocalDescription()
                    self.check(self.pc.signalingState, "stable", "onmessage not racing with negotiationneeded")
                    self.check(self.pc.localDescription.type, "answer", "onmessage SLD worked")
                    self.send({"description": self.pc.localDescription})
                else:
                    self.check(self.pc.remoteDescription.type, "answer", "Answer was set")
                    self.check(self.pc.signalingState, "stable", "answered")
                    self.pc.emit("negotiated")
            elif "candidate" in message:
                try:
                    await self.pc.addIceCandidate(message["candidate"])
                except Exception:
                    if not self.ignore_candidate_failures:
                        raise
        except Exception as exc:
            self.fail(exc)

    # commands (the helper's `commands` object)

    async def add_transceiver(self, kind: str = "video") -> int:
        negotiated = next_event(self.pc, "negotiated")
        self.pc.addTransceiver(kind)
        await asyncio.wait_for(negotiated, EVENT_TIMEOUT)
        return len(self.pc.getTransceivers())

    async def simple_connect(self) -> int:
        count = await self.add_transceiver()
        await wait_until(lambda: self.pc.iceConnectionState == "connected", "ICE connected")
        return count

    def restart_ice(self) -> None:
        self.pc.restartIce()

    @property
    def idle(self) -> bool:
        return self.pc.signalingState == "stable" and not self.making_offer and not self.tasks

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.pc.close()


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


def setup_ab(polite_a: bool, polite_b: bool) -> tuple[Peer, Peer]:
    """WPT setupAB: peer A and peer B with the given roles, wired to each other."""
    a, b = Peer("A", polite_a), Peer("B", polite_b)
    a.other, b.other = b, a
    return a, b


async def settled(a: Peer, b: Peer, done: Callable[[], bool] = lambda: True) -> None:
    """Both stable with nothing in flight (checked twice, a little apart), and `done`."""

    def quiet() -> bool:
        return a.idle and b.idle and done()

    for _ in range(100):
        await wait_until(quiet, "negotiation to settle")
        await asyncio.sleep(0.05)
        if quiet():
            return
    raise AssertionError("negotiation kept restarting")
