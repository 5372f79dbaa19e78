"""Browser calls through two port-restricted NATs (topologies/two_peers.toml), every browser kind
against aiortc and against the other browser: the call completes, ICE restarts from either side
reach a new generation with media both ways, simultaneous restarts (glare) resolve whichever side
is polite, and Chromium's own failure detection is recorded while an ICE restart by the aiortc
side brings the failed call back. One call per test, reused across its steps."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab.contract import Restart
from tests.browsers.harness import ROLES, LabCall

pytestmark = pytest.mark.usefixtures("no_leftovers")

HOSTS = {"offerer": "alice", "answerer": "bob"}
MAX_ROUNDS = 8
# (offerer, answerer); the offerer is the impolite side
PAIRS = [("firefox", "chromium"), ("chromium", "firefox"), ("firefox", "aiortc"), ("aiortc", "firefox")]
GLARE_PAIRS = [("chromium", "aiortc"), ("aiortc", "chromium"), *PAIRS]


def pair_id(kinds: tuple[str, str]) -> str:
    return f"{kinds[0]}-{kinds[1]}"


def glare_id(kinds: tuple[str, str]) -> str:
    """The pair, and which side its browser (Firefox where there is one) plays."""
    browser = "firefox" if "firefox" in kinds else "chromium"
    return f"{pair_id(kinds)}-{browser}-{'impolite' if kinds[0] == browser else 'polite'}"


def on_generation_since(call: LabCall, since: float, generation: int) -> bool:
    return all(any((r.get("generation") or 0) >= generation for r in call.of(role, "selected_pair", since))
               for role in ROLES)


def glare_events(call: LabCall, since: float) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {role: set() for role in ROLES}
    for role in ROLES:
        for record in call.of(role, "negotiation", since):
            if record.get("event") == "glare":
                found[role].add(str(record.get("action")))
    return found


@pytest.mark.parametrize("kinds", PAIRS, ids=[pair_id(k) for k in PAIRS])
async def test_call_and_restart_from_either_side(kinds: tuple[str, str], tmp_path: Path) -> None:
    name = f"rs{kinds[0][0]}{kinds[1][0]}"
    by_role = dict(zip(ROLES, kinds, strict=True))
    async with LabCall("two_peers", name, HOSTS, by_role, tmp_path) as call:
        await call.wait(lambda: call.media_flowing(0), 60, "media both ways")
        for role, kind in by_role.items():
            if kind != "aiortc":
                ready = call.of(role, "agent_ready")[0]
                assert ready["peer_kind"] == kind and ready["detection"] == f"{kind}-builtin"
                assert ready["clock_uncertainty_ms"] < 50
                # per-packet receive times of the page's RTP, real RTP sequence numbers
                rx = call.of(role, "media_rx")
                seqs = [int(r["seq"]) for r in rx[:20]]
                assert all(b - a in (1, -65535) for a, b in zip(seqs, seqs[1:], strict=False)), seqs
        for generation, role in enumerate(ROLES, start=1):
            t0 = time.monotonic()
            call.send(role, Restart(reason=f"test-{role}"))

            def restarted(t0: float = t0, generation: int = generation) -> bool:
                return (on_generation_since(call, t0, generation)
                        and all(call.state(r) == "connected" for r in ROLES)
                        and call.media_flowing(time.monotonic() - 0.5))

            await call.wait(restarted, 45, f"restart by the {role} ({by_role[role]}): "
                                            f"generation {generation} with media both ways")
            restarts = [r for r in call.of(role, "restart", t0)]
            assert restarts and restarts[0]["reason"] == f"test-{role}"
            errors = [r for who in ROLES for r in call.of(who, "negotiation", t0) if r.get("event") == "error"]
            assert not errors, errors


@pytest.mark.parametrize("kinds", GLARE_PAIRS, ids=[glare_id(k) for k in GLARE_PAIRS])
async def test_glare_resolves(kinds: tuple[str, str], tmp_path: Path) -> None:
    """Both peers call restartIce() at the same instant, round after round until the offers
    collided (at least three rounds): the impolite side (the offerer) keeps its offer, the polite
    side rolls back; every round ends stable on a new ICE generation with media flowing both ways."""
    name = f"gl{kinds[0][0]}{kinds[1][0]}"
    async with LabCall("two_peers", name, HOSTS, dict(zip(ROLES, kinds, strict=True)), tmp_path) as call:
        await call.wait(lambda: call.media_flowing(0), 60, "media both ways")
        seen: dict[str, set[str]] = {role: set() for role in ROLES}
        for round_ in range(MAX_ROUNDS):
            if round_ >= 3 and any(seen.values()):
                break
            t0 = time.monotonic()
            for role in ROLES:
                call.send(role, Restart(reason=f"glare-{round_}"))

            def settled(t0: float = t0) -> bool:
                return all(
                    call.state(role, "signaling_state") == "stable"
                    and call.state(role) == "connected"
                    and len(call.of(role, "selected_pair", t0)) >= 1
                    for role in ROLES
                ) and call.media_flowing(time.monotonic() - 0.5, units=10)

            await call.wait(settled, 45, f"round {round_}: stable, new pair, media")
            for role, actions in glare_events(call, t0).items():
                seen[role] |= actions
            errors = [r for role in ROLES for r in call.of(role, "negotiation", t0) if r.get("event") == "error"]
            assert not errors, errors
        polite, impolite = "answerer", "offerer"
        assert "implicit_rollback" in seen[polite] or "ignore_offer" in seen[impolite], \
            f"no collision in {MAX_ROUNDS} rounds of simultaneous restarts: {seen}"
        assert "ignore_offer" not in seen[polite] and "implicit_rollback" not in seen[impolite], seen
        for role in ROLES:
            ufrags = {r.get("ice_ufrag") for r in call.of(role, "offer_sent") + call.of(role, "answer_sent")}
            assert len(ufrags) >= 4, f"{role} did not restart ICE: {ufrags}"


async def test_chromium_detection_recorded_and_aiortc_restart_recovers(tmp_path: Path) -> None:
    """Blackhole Chromium's NAT uplink until Chromium itself says 'failed' (its own timers: the
    lab configures nothing), lift it, then the aiortc side calls restartIce(): media resumes at
    both ends over the new ICE generation."""
    kinds = {"offerer": "aiortc", "answerer": "chromium"}
    async with LabCall("two_peers", "det", HOSTS, kinds, tmp_path) as call:
        await call.wait(lambda: call.media_flowing(0), 60, "media both ways")
        t_fault = time.monotonic()
        await call.call(call.net.impair.blackhole, "nat_b", "wan")
        try:
            await call.wait(lambda: call.state("answerer") == "failed", 90, "Chromium's 'failed'")
        finally:
            await call.call(call.net.impair.unblackhole, "nat_b", "wan")
        # Chromium 156 moves connectionState to 'failed' while iceConnectionState stays at
        # 'disconnected': both are recorded as they come
        states = [(r["kind"], r["state"], float(r["t"]) - t_fault)
                  for r in call.of("answerer", "ice_state", t_fault) + call.of("answerer", "connection_state", t_fault)]
        first = {state: t for _, state, t in sorted(states, key=lambda s: -s[2])}
        assert 0 < first["disconnected"] < first["failed"], states
        ready = call.of("answerer", "agent_ready")[0]
        assert ready["detection"] == "chromium-builtin" and ready["clock_uncertainty_ms"] < 50
        print(f"Chromium detection: disconnected after {first['disconnected'] * 1000:.0f} ms, "
              f"failed after {first['failed'] * 1000:.0f} ms")

        t_restart = time.monotonic()
        call.send("offerer", Restart(reason="test"))

        def restarted() -> bool:
            on_new = all(any((r.get("generation") or 0) >= 1 for r in call.of(role, "selected_pair", t_restart))
                         for role in ROLES)
            return on_new and call.state("answerer") == "connected" and call.media_flowing(time.monotonic() - 0.5)

        await call.wait(restarted, 45, "both peers on the new ICE generation with media after restartIce")
        assert call.rx_since("answerer", t_restart) > 10 and call.rx_since("offerer", t_restart) > 10
