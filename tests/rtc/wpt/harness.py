"""What the ported web-platform-tests (webrtc/) need: peer connections, JS event semantics.

JS -> Python:
- `new RTCPeerConnection(config)` -> `make_pc(...)`: lab.rtc's peer on loopback (no ICE servers,
  nothing leaves the machine). `use_plain_aiortc()` switches it to aiortc.RTCPeerConnection, to
  show the suite fails there.
- `await new Promise(r => pc.onnegotiationneeded = r)` -> `await negotiationneeded(pc)`: the next
  event, whenever it was queued (events are queued as tasks, so a listener attached right after
  the triggering call still gets it).
- "no event" (`assertNoNegotiationNeeded`, WPT's 10 ms `step_timeout`) -> none within
  NO_EVENT_WAIT. A fixed wait, not a timing assertion.
- `promise_rejects_dom(t, "InvalidStateError", p)` -> `pytest.raises(InvalidStateError)`.
- `{type: "rollback"}` -> ROLLBACK.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from typing import Any

import aiortc
from aiortc import RTCConfiguration, RTCSessionDescription
from aiortc.rtcconfiguration import RTCBundlePolicy

from lab.rtc import IceOptions, RTCPeerConnection

NO_EVENT_WAIT = 0.05
EVENT_TIMEOUT = 10.0
ROLLBACK = RTCSessionDescription(sdp="", type="rollback")

_plain = False


@contextlib.contextmanager
def use_plain_aiortc() -> Iterator[None]:
    """make_pc() gives aiortc's own RTCPeerConnection inside this block."""
    global _plain
    _plain = True
    try:
        yield
    finally:
        _plain = False


def make_pc(bundle_policy: RTCBundlePolicy = RTCBundlePolicy.BALANCED) -> Any:
    config = RTCConfiguration(iceServers=[], bundlePolicy=bundle_policy)
    if _plain:
        return aiortc.RTCPeerConnection(config)
    return RTCPeerConnection(config, ice=IceOptions(host_addresses=("127.0.0.1",)))


class Peers:
    """Peer connections of one test, all closed at its end (WPT's t.add_cleanup)."""

    def __init__(self) -> None:
        self.made: list[Any] = []

    def __call__(self, bundle_policy: RTCBundlePolicy = RTCBundlePolicy.BALANCED) -> Any:
        pc = make_pc(bundle_policy)
        self.made.append(pc)
        return pc

    async def close(self) -> None:
        for pc in self.made:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 10)


def next_event(pc: Any, name: str) -> asyncio.Future[None]:
    """A future for the next `name` event of pc."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def fired(*_: Any) -> None:
        if not future.done():
            future.set_result(None)

    pc.once(name, fired)  # a listener left behind after a cancel finds its future done
    return future


async def negotiationneeded(pc: Any, pending: asyncio.Future[None] | None = None) -> None:
    """Wait for the next negotiationneeded (or the one `pending` was made for)."""
    await asyncio.wait_for(pending or next_event(pc, "negotiationneeded"), EVENT_TIMEOUT)


async def fired_within_wait(pc: Any, name: str) -> bool:
    future = next_event(pc, name)
    await asyncio.sleep(NO_EVENT_WAIT)
    fired = future.done()
    if not fired:
        future.cancel()
    return fired


async def assert_no_negotiationneeded(pc: Any) -> None:
    """WPT's assertNoNegotiationNeeded: stable, and no event within a short wait."""
    assert pc.signalingState == "stable", "In stable state"
    assert not await fired_within_wait(pc, "negotiationneeded"), "No negotiationneeded event"


def record_signaling_states(pc: Any) -> list[str]:
    states: list[str] = []
    pc.on("signalingstatechange", lambda: states.append(pc.signalingState))
    return states


def descriptions(pc: Any, side: str) -> tuple[bool, bool, bool]:
    """Whether `side`'s ("local"/"remote") description, pending one and current one are set."""
    cap = side.capitalize()
    names = (f"{side}Description", f"pending{cap}Description", f"current{cap}Description")
    return tuple(getattr(pc, name) is not None for name in names)  # type: ignore[return-value]


async def assert_rollback_to_stable(pc: Any, side: str, offer: Any) -> None:
    """Set `offer` on `side`, then roll it back: have-<side>-offer with a pending description
    only, then stable with no description of that side left (both states fired, in order)."""
    states = record_signaling_states(pc)
    apply = pc.setLocalDescription if side == "local" else pc.setRemoteDescription
    await apply(offer)
    assert pc.signalingState == f"have-{side}-offer"
    assert descriptions(pc, side) == (True, True, False)

    await apply(ROLLBACK)
    assert pc.signalingState == "stable"
    assert descriptions(pc, side) == (False, False, False)
    assert states == [f"have-{side}-offer", "stable"]


def ufrags(description: Any) -> list[str]:
    found = re.findall(r"^a=ice-ufrag:(\S+)\r?$", description.sdp, re.MULTILINE)
    assert found, "One or more a=ice-ufrag: in sdp"
    return found


def pwds(description: Any) -> list[str]:
    found = re.findall(r"^a=ice-pwd:(\S+)\r?$", description.sdp, re.MULTILINE)
    assert found, "One or more a=ice-pwd: in sdp"
    return found


async def handshake_end_on_first(pc1: Any, pc2: Any) -> None:
    """WPT doSignalingHandshakeEndOnFirst: the offerer applies the answer last."""
    await pc1.setLocalDescription(await pc1.createOffer())
    await pc2.setRemoteDescription(pc1.localDescription)
    await pc2.setLocalDescription(await pc2.createAnswer())
    await pc1.setRemoteDescription(pc2.localDescription)


async def handshake_end_on_second(pc1: Any, pc2: Any) -> None:
    """WPT doSignalingHandshakeEndOnSecond: the answerer applies its own answer last."""
    await pc1.setLocalDescription(await pc1.createOffer())
    await pc2.setRemoteDescription(pc1.localDescription)
    await pc1.setRemoteDescription(await pc2.createAnswer())
    await pc2.setLocalDescription(pc1.remoteDescription)


async def generate_offer(audio: bool = False, video: bool = False, data: bool = False) -> Any:
    """WPT generateOffer: an offer from a throw-away peer."""
    pc = make_pc()
    try:
        if audio:
            pc.addTransceiver("audio")
        if video:
            pc.addTransceiver("video")
        if data:
            pc.createDataChannel("test")
        offer = await pc.createOffer()
        return offer
    finally:
        await pc.close()


async def generate_answer(offer: Any) -> Any:
    """WPT generateAnswer: an answer from a throw-away peer."""
    pc = make_pc()
    try:
        await pc.setRemoteDescription(offer)
        return await pc.createAnswer()
    finally:
        await pc.close()


def as_created(sdp: str) -> str:
    """An SDP without what gathering adds to a local description after it was created
    (candidates, the default address and port): browsers add them after setLocalDescription
    resolves, aiortc before. What remains is what createOffer()/createAnswer() decided."""
    lines = []
    for line in sdp.splitlines():
        if line.startswith(("a=candidate:", "a=end-of-candidates")):
            continue
        if line.startswith("m="):
            kind, _port, rest = line.split(" ", 2)
            line = f"{kind} 9 {rest}"
        elif line.startswith("c=IN IP4 "):
            line = "c=IN IP4 0.0.0.0"
        lines.append(line)
    return "\n".join(lines)
