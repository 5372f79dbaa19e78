"""Seed 004's glare reproduction: both peers renegotiate at the same instant, many times.

Each side makes its own change (the impolite peer adds audio, the polite peer video) and both
restart ICE; the glare is resolved only when both changes are negotiated: JSEP §5.10 forbids
the polite side's addTransceiver() being merged into the impolite side's m-line.
"""

from __future__ import annotations

import asyncio
import logging
import random
import statistics

from lab.rtc.signaling import MemoryChannelPair, SignalingImpairments

from .conftest import Call, m_lines, on_current_generation, open_call, ufrag

REPETITIONS = 100
REPETITIONS_PER_CALL = 10  # each repetition adds a transceiver per side: keep SDPs small


KINDS = {"impolite": "audio", "polite": "video"}


def _own_change_negotiated(pc, added) -> bool:
    """The transceiver this side added has its own m-line in both descriptions, sending."""
    if added is None or added.mid is None or added.currentDirection not in ("sendrecv", "sendonly"):
        return False
    for description in (pc.localDescription, pc.remoteDescription):
        if f"a=mid:{added.mid}\r\n" not in description.sdp:
            return False
    return sum(1 for t in pc.getTransceivers() if t.mid == added.mid) == 1


def _all_negotiated(call: Call, old_ufrags: tuple[str | None, str | None], added: dict) -> bool:
    for n, old in zip(call.negotiators, old_ufrags, strict=True):
        pc = n.pc
        if not _own_change_negotiated(pc, added.get(n.role)):
            return False
        if pc.localDescription is None or pc.remoteDescription is None:
            return False
        if ufrag(pc.localDescription) == old:
            return False
        if m_lines(pc.localDescription) != m_lines(pc.remoteDescription):
            return False
        if any(t.mid is None for t in pc.getTransceivers()):
            return False
        # the restart is done: media runs on the ICE generation both descriptions name
        if not on_current_generation(pc):
            return False
    return True


async def _renegotiate(pc, kind: str, delay_s: float, restart_first: bool, added: dict, role: str) -> None:
    await asyncio.sleep(delay_s)
    if restart_first:
        pc.restartIce()
        added[role] = pc.addTransceiver(kind)
    else:
        added[role] = pc.addTransceiver(kind)
        pc.restartIce()


def _kinds(pc) -> dict[str, int]:
    return {kind: sum(1 for t in pc.getTransceivers() if t.kind == kind) for kind in ("audio", "video")}


async def glare_repetition(call: Call, rng: random.Random, max_offset_s: float) -> dict[str, float]:
    old = (ufrag(call.impolite.pc.localDescription), ufrag(call.polite.pc.localDescription))
    before = call.totals()
    events_before = len(call.events)
    counts_before = {n.role: _kinds(n.pc) for n in call.negotiators}
    added: dict = {}
    await asyncio.gather(
        _renegotiate(call.impolite.pc, KINDS["impolite"], rng.uniform(0, max_offset_s), rng.random() < 0.5, added, "impolite"),
        _renegotiate(call.polite.pc, KINDS["polite"], rng.uniform(0, max_offset_s), rng.random() < 0.5, added, "polite"),
    )
    seconds = await call.settle(lambda: _all_negotiated(call, old, added))
    # each side now has one more audio and one more video transceiver, one per m-line
    for n in call.negotiators:
        after = _kinds(n.pc)
        assert after == {k: v + 1 for k, v in counts_before[n.role].items()}, (n.role, after)
        assert m_lines(n.pc.localDescription) == m_lines(n.pc.remoteDescription) == 1 + sum(after.values())
    await call.ping()
    delta = {k: v - before[k] for k, v in call.totals().items()}
    glares = [e for e in call.events[events_before:] if e["event"] == "glare"]
    return {"seconds": seconds, "glare": float(bool(glares)), **{k: float(v) for k, v in delta.items()}}


async def test_glare_resolves_in_100_randomized_repetitions(caplog) -> None:
    caplog.set_level(logging.INFO, logger="lab.rtc")
    rng = random.Random(2026)
    results: list[dict[str, float]] = []
    while len(results) < REPETITIONS:
        delay_ms = rng.uniform(2, 15)
        pair = MemoryChannelPair(
            SignalingImpairments(delay_ms=delay_ms, jitter_ms=delay_ms / 4, seed=rng.randrange(10**6)),
            SignalingImpairments(delay_ms=delay_ms, jitter_ms=delay_ms / 4, seed=rng.randrange(10**6)),
            names=("impolite", "polite"),
        )
        pair.start()
        call = await open_call(pair)
        try:
            for _ in range(min(REPETITIONS_PER_CALL, REPETITIONS - len(results))):
                result = await glare_repetition(call, rng, max_offset_s=delay_ms / 2000)
                results.append(result)
                # within one extra round trip: the polite peer's rolled-back offer is the only extra
                assert result["offers_sent"] <= 3, result
                assert result["answers_sent"] <= 2, result
                assert result["invalid_state_errors"] == 0, result
                assert result["errors"] == 0, (result, call.impolite.errors, call.polite.errors)
            assert call.impolite.pc.signalingState == call.polite.pc.signalingState == "stable"
        finally:
            await call.close()

    assert "InvalidStateError" not in caplog.text
    glared = [r for r in results if r["glare"]]
    times = sorted(r["seconds"] for r in glared) or [0.0]
    print(
        f"\nglare: {len(glared)}/{len(results)} repetitions collided; "
        f"settle time median {statistics.median(times):.3f} s, max {times[-1]:.3f} s; "
        f"offers per repetition max {max(r['offers_sent'] for r in results):.0f}, "
        f"answers max {max(r['answers_sent'] for r in results):.0f}"
    )
    # the randomisation must actually produce glare most of the time, or the test proves nothing
    assert len(glared) >= REPETITIONS // 2


async def test_glare_log_lines_have_the_shape_of_seed_004(caplog) -> None:
    caplog.set_level(logging.INFO, logger="lab.rtc")
    # a 40 ms signaling delay and simultaneous triggers make both offers cross in flight
    pair = MemoryChannelPair(
        SignalingImpairments(delay_ms=40, seed=1), SignalingImpairments(delay_ms=40, seed=2), names=("impolite", "polite")
    )
    pair.start()
    call = await open_call(pair)
    try:
        caplog.clear()
        events_before = len(call.events)
        await glare_repetition(call, random.Random(0), max_offset_s=0.0)
        lines = [r.getMessage() for r in caplog.records]
        for expected in (
            "[peer-impolite] negotiationneeded -> setLocalDescription(offer)",
            "[peer-polite] negotiationneeded -> setLocalDescription(offer)",
            "[peer-impolite] inbound offer while making offer -> ignoreOffer=true (kept ours)",
            "[peer-polite] inbound offer collision -> implicit rollback -> setRemoteDescription ok",
            "[peer-polite] setLocalDescription(answer) -> sent",
            "[both] signalingState: stable",
        ):
            assert expected in lines, f"missing log line {expected!r} in {lines}"
        glares = [e for e in call.events[events_before:] if e["event"] == "glare"]
        assert {(e["role"], e["action"]) for e in glares} == {("impolite", "ignore_offer"), ("polite", "implicit_rollback")}
        assert all(isinstance(e["t"], float) for e in glares)
    finally:
        await call.close()


async def test_impolite_peer_swallows_candidates_of_the_offer_it_ignored() -> None:
    from aiortc.sdp import candidate_from_sdp

    pair = MemoryChannelPair(
        SignalingImpairments(delay_ms=40, seed=3), SignalingImpairments(delay_ms=40, seed=4), names=("impolite", "polite")
    )
    pair.start()
    call = await open_call(pair)
    try:

        def trickle_after_offer(event: dict) -> None:
            # like a browser, the polite peer trickles the candidates of the offer it just sent
            if event["event"] == "description_sent" and event["type"] == "offer":
                for line in call.polite.pc.localDescription.sdp.splitlines():
                    if line.startswith("a=candidate:"):
                        candidate = candidate_from_sdp(line.removeprefix("a=candidate:"))
                        candidate.sdpMLineIndex = 0
                        call.polite.send_candidate(candidate)

        call.polite.on("event", trickle_after_offer)
        await glare_repetition(call, random.Random(0), max_offset_s=0.0)
        assert call.impolite.counters["offers_ignored"] >= 1
        assert call.impolite.counters["candidates_swallowed"] >= 1
        assert call.impolite.counters["errors"] == 0, call.impolite.errors
    finally:
        await call.close()
