"""A two-peer call on loopback: lab.rtc peers, PerfectNegotiators, a signaling channel between."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from lab.rtc import IceOptions, RTCPeerConnection
from lab.rtc.negotiation import PerfectNegotiator, wait_all_stable
from lab.rtc.signaling import MemoryChannelPair, SignalingImpairments


def make_pc() -> RTCPeerConnection:
    # aioice skips 127.0.0.1 when it enumerates interfaces: name it for loopback calls
    return RTCPeerConnection(ice=IceOptions(host_addresses=("127.0.0.1",)))


async def poll(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


def ufrag(description: Any) -> str | None:
    if description is None:
        return None
    m = re.search(r"^a=ice-ufrag:(\S+)", description.sdp, re.MULTILINE)
    return m.group(1) if m else None


def m_lines(description: Any) -> int:
    return 0 if description is None else len(re.findall(r"^m=", description.sdp, re.MULTILINE))


def on_current_generation(pc: Any) -> bool:
    """Every ICE transport runs the generation our local description names (restart done)."""
    mine = ufrag(pc.localDescription)
    return all(t.activeGeneration.local.usernameFragment == mine for t in pc.getIceTransports())


@dataclass
class Call:
    """impolite <-> polite over `channels` (anything with .a/.b SignalingChannels)."""

    impolite: PerfectNegotiator
    polite: PerfectNegotiator
    channels: Any
    events: list[dict[str, Any]] = field(default_factory=list)
    pings: dict[str, Any] = field(default_factory=dict)

    @property
    def negotiators(self) -> tuple[PerfectNegotiator, PerfectNegotiator]:
        return (self.impolite, self.polite)

    def totals(self) -> dict[str, int]:
        return {k: self.impolite.counters[k] + self.polite.counters[k] for k in self.impolite.counters}

    def ice_connected(self) -> bool:
        return all(n.pc.iceConnectionState in ("connected", "completed") for n in self.negotiators)

    async def settle(self, done: Callable[[], bool] = lambda: True, timeout: float = 60.0) -> float:
        """Wait for `done`, both peers stable and idle, and ICE connected; returns seconds."""
        start = time.monotonic()
        await poll(lambda: done() and all(n.idle for n in self.negotiators), timeout, "negotiation to finish")
        await wait_all_stable(self.negotiators, timeout=timeout)
        await poll(self.ice_connected, timeout, "ICE connected on both peers")
        return time.monotonic() - start

    async def ping(self, timeout: float = 30.0) -> None:
        """One message each way over the data channel: the call works."""
        got: asyncio.Queue[str] = asyncio.Queue()
        self.pings["polite"].on("message", lambda m: got.put_nowait(f"polite:{m}"))
        self.pings["impolite"].on("message", lambda m: got.put_nowait(f"impolite:{m}"))
        token = str(time.monotonic())
        self.pings["impolite"].send(f"ping {token}")
        self.pings["polite"].send(f"pong {token}")
        seen = {await asyncio.wait_for(got.get(), timeout), await asyncio.wait_for(got.get(), timeout)}
        for ch in self.pings.values():
            ch.remove_all_listeners("message")
        assert seen == {f"polite:ping {token}", f"impolite:pong {token}"}

    async def close(self) -> None:
        for n in self.negotiators:
            await n.close()
            await n.pc.close()
        await self.channels.close()


async def open_call(channels: Any, **negotiator_options: Any) -> Call:
    """Start negotiators on both ends and bring up a data channel call (impolite offers)."""
    call = Call(
        PerfectNegotiator(make_pc(), channels.a, polite=False, **negotiator_options),
        PerfectNegotiator(make_pc(), channels.b, polite=True, **negotiator_options),
        channels,
    )
    for n in call.negotiators:
        n.on("event", call.events.append)
        n.start()
    opened = asyncio.get_running_loop().create_future()

    @call.polite.pc.on("datachannel")
    def _on_datachannel(channel: Any) -> None:
        call.pings["polite"] = channel
        if not opened.done():
            opened.set_result(None)

    call.pings["impolite"] = call.impolite.pc.createDataChannel("ping")
    await asyncio.wait_for(opened, 60)
    await call.settle()
    await poll(lambda: call.pings["impolite"].readyState == "open", 30, "data channel open")
    return call


@pytest.fixture
async def memory_call() -> AsyncIterator[Call]:
    pair = MemoryChannelPair(
        SignalingImpairments(delay_ms=2, jitter_ms=2, seed=11),
        SignalingImpairments(delay_ms=2, jitter_ms=2, seed=12),
        names=("impolite", "polite"),
    )
    pair.start()
    call = await open_call(pair)
    try:
        yield call
    finally:
        await call.close()
