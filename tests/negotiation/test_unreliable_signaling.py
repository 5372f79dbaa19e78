"""Negotiation over a signaling path that reorders, duplicates, drops and goes away."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from lab.rtc.negotiation import PerfectNegotiator, RoleConflictError
from lab.rtc.signaling import MemoryChannelPair, SignalingClient, SignalingImpairments, SignalingServer

from .conftest import make_pc, on_current_generation, open_call, poll, ufrag
from .test_glare import glare_repetition


async def test_reordered_duplicated_and_lost_messages_converge_to_a_working_call() -> None:
    rough = dict(delay_ms=5, jitter_ms=5, drop=0.1, duplicate=0.3, reorder=0.3, reorder_hold_ms=25)
    pair = MemoryChannelPair(
        SignalingImpairments(**rough, seed=21), SignalingImpairments(**rough, seed=22), names=("impolite", "polite")
    )
    pair.start()
    call = await open_call(pair)
    try:
        rng = random.Random(5)
        for _ in range(3):
            result = await glare_repetition(call, rng, max_offset_s=0.005)
            assert result["invalid_state_errors"] == 0 and result["errors"] == 0, result
        await call.ping()
        wire = [pair.a.path.stats, pair.b.path.stats]
        assert sum(s["duplicated"] for s in wire) > 0 and sum(s["held"] for s in wire) > 0
        assert pair.a.session.stats.duplicates_dropped + pair.b.session.stats.duplicates_dropped > 0
    finally:
        await call.close()


async def test_signaling_outage_during_a_restart_recovers_when_signaling_returns() -> None:
    async with SignalingServer("127.0.0.1", 0) as server:
        fast = dict(retransmit_s=0.2, backoff={"initial_s": 0.05, "max_s": 0.5})
        imp_client = SignalingClient.create(server.url, "outage", "impolite", **fast)
        pol_client = SignalingClient.create(server.url, "outage", "polite", **fast)
        await imp_client.start()
        await pol_client.start()

        class Channels:
            a, b = imp_client, pol_client

            async def close(self) -> None:
                await imp_client.close()
                await pol_client.close()

        call = await open_call(Channels(), unanswered_warning_s=0.3)
        try:
            old_ufrag = ufrag(call.impolite.pc.localDescription)
            imp_client.begin_outage()
            await poll(lambda: not imp_client.connected, 30, "signaling to go down")
            call.impolite.pc.restartIce()
            await poll(lambda: call.impolite.pc.signalingState == "have-local-offer", 30, "the restart offer")
            await asyncio.sleep(0.5)
            # the offer is queued, not lost, and nothing got answered meanwhile
            assert call.impolite.pc.signalingState == "have-local-offer"
            assert imp_client.session.unacked >= 1
            await poll(lambda: any(e["event"] == "offer_unanswered" for e in call.events), 30, "stall diagnosis")
            imp_client.end_outage()
            await call.settle(
                lambda: ufrag(call.impolite.pc.localDescription) != old_ufrag
                and all(on_current_generation(n.pc) for n in call.negotiators)
            )
            await call.ping()
            assert imp_client.connects >= 2
            assert call.impolite.role == "impolite" and call.polite.role == "polite"
            assert call.impolite.counters["errors"] == call.polite.counters["errors"] == 0
            # roles survived the reconnect: glare still resolves the same way
            result = await glare_repetition(call, random.Random(9), max_offset_s=0.002)
            assert result["invalid_state_errors"] == 0 and result["errors"] == 0
        finally:
            await call.close()


@pytest.mark.parametrize("polite", [False, True], ids=["both-impolite", "both-polite"])
async def test_role_misconfiguration_is_reported_not_deadlocked(polite: bool, caplog) -> None:
    caplog.set_level(logging.INFO, logger="lab.rtc")
    pair = MemoryChannelPair(names=("a", "b"))
    pair.start()
    a = PerfectNegotiator(make_pc(), pair.a, polite=polite, name="peer-a")
    b = PerfectNegotiator(make_pc(), pair.b, polite=polite, name="peer-b")
    events: list[dict] = []
    for n in (a, b):
        n.on("event", events.append)
        n.start()
    try:
        for n in (a, b):
            with pytest.raises(RoleConflictError):
                await n.ready(timeout=10)
            assert n.role_error is not None
        conflicts = [e for e in events if e["event"] == "role_conflict"]
        assert {e["peer"] for e in conflicts} == {"peer-a", "peer-b"}
        expected = "both peers polite" if polite else "[both] ignoreOffer=true -> both peers impolite"
        assert expected in caplog.text
    finally:
        for n in (a, b):
            await n.close()
            await n.pc.close()
        await pair.close()


async def test_complementary_roles_are_confirmed_by_the_hello() -> None:
    pair = MemoryChannelPair(names=("a", "b"))
    pair.start()
    a = PerfectNegotiator(make_pc(), pair.a, polite=False)
    b = PerfectNegotiator(make_pc(), pair.b, polite=True)
    for n in (a, b):
        n.start()
    try:
        assert await a.ready(10) == "polite"
        assert await b.ready(10) == "impolite"
    finally:
        for n in (a, b):
            await n.close()
            await n.pc.close()
        await pair.close()


async def test_a_restarted_peer_learns_the_kept_role_of_the_other() -> None:
    pair = MemoryChannelPair(names=("a", "b"))
    pair.start()
    a = PerfectNegotiator(make_pc(), pair.a, polite=False)
    b = PerfectNegotiator(make_pc(), pair.b, polite=True)
    for n in (a, b):
        n.start()
    try:
        assert await a.ready(10) == "polite"
        await a.close()
        await a.pc.close()
        # the impolite application restarts: a new negotiator (new session) on the same channel
        a = PerfectNegotiator(make_pc(), pair.a, polite=False)
        a.start()
        assert await a.ready(10) == "polite"
        assert b.role == "polite" and b.role_error is None
    finally:
        for n in (a, b):
            await n.close()
            await n.pc.close()
        await pair.close()
