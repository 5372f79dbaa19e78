"""Port of web-platform-tests webrtc/RTCPeerConnection-perfect-negotiation.https.html (and the
scenario of -perfect-negotiation-stress-glare.https.html), on perfect_negotiation_helper.

Every test runs twice, as the original's promise_test_both_roles: A polite / B impolite, then
"with roles reversed". A test passes only if neither peer's own asserts failed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from .perfect_negotiation_helper import Peer, settled, setup_ab, wait_until

ROLES = [
    pytest.param((True, False), id="A polite"),
    pytest.param((False, True), id="with roles reversed"),
]


@pytest.fixture(params=ROLES)
async def ab(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Peer, Peer]]:
    a, b = setup_ab(*request.param)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()
    assert a.failures == [] and b.failures == [], a.failures + b.failures


def mids(peer: Peer) -> list[str | None]:
    return sorted(str(t.mid) for t in peer.pc.getTransceivers())


def kinds(peer: Peer) -> dict[str, int]:
    return {k: sum(1 for t in peer.pc.getTransceivers() if t.kind == k) for k in ("audio", "video")}


def ufrag(peer: Peer) -> str:
    found = re.search(r"^a=ice-ufrag:(\S+)", peer.pc.localDescription.sdp, re.MULTILINE)
    assert found
    return found.group(1)


def all_negotiated(a: Peer, b: Peer) -> bool:
    return all(t.mid is not None for p in (a, b) for t in p.pc.getTransceivers())


async def connected(a: Peer, b: Peer) -> None:
    await wait_until(
        lambda: a.pc.iceConnectionState == b.pc.iceConnectionState == "connected", "ICE connected"
    )


async def test_perfect_negotiation_setup_connects(ab: tuple[Peer, Peer]) -> None:
    """Perfect negotiation setup connects"""
    a, b = ab
    assert await a.simple_connect() == 1, "one transceiver"
    assert await b.add_transceiver() == 2, "two transceivers"


async def test_perfect_negotiation_resolves_glare(ab: tuple[Peer, Peer]) -> None:
    """Perfect negotiation works with simultaneous addTransceiver (glare): both are negotiated"""
    a, b = ab
    await a.simple_connect()
    await settled(a, b)
    await asyncio.gather(a.add_transceiver(), b.add_transceiver())
    await settled(a, b, lambda: all_negotiated(a, b))
    assert len(a.pc.getTransceivers()) == len(b.pc.getTransceivers()) == 3
    assert mids(a) == mids(b)
    await connected(a, b)


async def test_perfect_negotiation_glare_with_different_kinds(ab: tuple[Peer, Peer]) -> None:
    """Perfect negotiation: glare with audio added on one side and video on the other ends with both negotiated"""
    a, b = ab
    await a.simple_connect()
    await settled(a, b)
    await asyncio.gather(a.add_transceiver("audio"), b.add_transceiver("video"))
    await settled(a, b, lambda: all_negotiated(a, b))
    assert kinds(a) == kinds(b) == {"audio": 1, "video": 2}
    assert mids(a) == mids(b)
    for peer in (a, b):
        assert peer.pc.localDescription.sdp.count("m=") == 3
    await connected(a, b)


async def test_perfect_negotiation_restart_ice_glare(ab: tuple[Peer, Peer]) -> None:
    """Perfect negotiation: restartIce() on both sides at once restarts ICE and reconnects"""
    a, b = ab
    await a.simple_connect()
    await settled(a, b)
    old = (ufrag(a), ufrag(b))
    a.restart_ice()
    b.restart_ice()
    await settled(a, b, lambda: (ufrag(a), ufrag(b)) != old)
    assert ufrag(a) != old[0] and ufrag(b) != old[1]
    await connected(a, b)


async def test_perfect_negotiation_stress_glare(ab: tuple[Peer, Peer]) -> None:
    """Perfect negotiation stress glare: both sides add transceivers at once, ten times"""
    a, b = ab
    await a.simple_connect()
    await settled(a, b)
    for _ in range(10):
        await asyncio.gather(a.add_transceiver(), b.add_transceiver())
    await settled(a, b, lambda: all_negotiated(a, b))
    assert len(a.pc.getTransceivers()) == len(b.pc.getTransceivers()) == 21
    assert mids(a) == mids(b)
    await connected(a, b)
