"""The reliability layer over impaired in-memory links: each message once, in order."""

from __future__ import annotations

import asyncio

import pytest

from lab.rtc.signaling import MemoryChannelPair, OutageWindow, SignalingImpairments
from tests.signaling.messages import collect


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_drop_duplicate_reorder_deliver_each_message_once_in_order(seed: int) -> None:
    bad = SignalingImpairments(delay_ms=5, jitter_ms=5, drop=0.2, duplicate=0.3, reorder=0.3, seed=seed)
    pair = MemoryChannelPair(bad, bad.model_copy(update={"seed": seed + 100}))
    pair.start()
    try:
        receiving = asyncio.create_task(collect(pair.b, 50))
        back = asyncio.create_task(collect(pair.a, 20))
        for i in range(50):
            pair.a.send({"i": i})
        for i in range(20):
            pair.b.send({"j": i})
        assert [m["i"] for m in await receiving] == list(range(50))
        assert [m["j"] for m in await back] == list(range(20))
        stats = pair.a.path.stats
        assert stats["dropped"] > 0 and stats["duplicated"] > 0 and stats["held"] > 0
        assert pair.b.session.stats.duplicates_dropped > 0
    finally:
        await pair.close()


async def test_messages_sent_during_an_outage_arrive_after_it() -> None:
    pair = MemoryChannelPair()
    pair.start()
    try:
        receiving = asyncio.create_task(collect(pair.b, 10))
        pair.begin_outage()
        for i in range(10):
            pair.a.send({"i": i})
        await asyncio.sleep(0.3)
        assert not receiving.done()
        assert pair.a.session.unacked == 10
        pair.end_outage()
        assert [m["i"] for m in await receiving] == list(range(10))
    finally:
        await pair.close()


async def test_configured_outage_window_delays_but_does_not_lose() -> None:
    window = SignalingImpairments(outages=(OutageWindow(start_s=0.0, duration_s=1.0),))
    pair = MemoryChannelPair(window)
    pair.start()
    try:
        receiving = asyncio.create_task(collect(pair.b, 3))
        for i in range(3):
            pair.a.send({"i": i})
        assert pair.a.path.stats["lost_in_outage"] == 3  # sent into a dead link
        assert [m["i"] for m in await receiving] == [0, 1, 2]  # resent once it lives again
    finally:
        await pair.close()


def test_impairments_are_validated() -> None:
    with pytest.raises(ValueError):
        SignalingImpairments(drop=1.0)
    with pytest.raises(ValueError):
        SignalingImpairments(delay_ms=-1)
    with pytest.raises(ValueError):
        SignalingImpairments.model_validate({"delay": 3})


def test_a_restarted_receiver_gets_new_messages_not_a_stalled_gap() -> None:
    from lab.rtc.signaling import ReliableSession

    delivered: list[tuple[str, dict]] = []
    peers: dict[str, ReliableSession] = {}

    def wire(name: str, other: str) -> ReliableSession:
        session = ReliableSession(
            name,
            transmit=lambda frame: peers[other].on_frame(frame),
            deliver=lambda frame: delivered.append((name, frame["body"])),
        )
        peers[name] = session
        return session

    alice = wire("alice", "bob")
    wire("bob", "alice")
    for i in range(3):
        alice.send({"i": i})
    assert alice.unacked == 0
    wire("bob", "alice")  # bob's process restarted: fresh receive state, alice's seq goes on
    alice.send({"i": 3})
    assert delivered == [("bob", {"i": 0}), ("bob", {"i": 1}), ("bob", {"i": 2}), ("bob", {"i": 3})]
    assert alice.unacked == 0
