"""aiortc <-> Chromium calls through two port-restricted NATs (topologies/two_peers.toml):
glare between the two implementations, Chromium's own failure detection, ICE restart by the
aiortc side bringing a failed call back. One browser per test, reused across its steps."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab.contract import Restart
from tests.chromium.harness import ROLES, LabCall

pytestmark = pytest.mark.usefixtures("no_leftovers")

HOSTS = {"offerer": "alice", "answerer": "bob"}
MAX_ROUNDS = 8


def glare_events(call: LabCall, since: float) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {role: set() for role in ROLES}
    for role in ROLES:
        for record in call.of(role, "negotiation", since):
            if record.get("event") == "glare":
                found[role].add(str(record.get("action")))
    return found


@pytest.mark.parametrize("kinds", [("chromium", "aiortc"), ("aiortc", "chromium")],
                         ids=["chromium-impolite", "chromium-polite"])
async def test_glare_between_aiortc_and_chromium_resolves(kinds: tuple[str, str], tmp_path: Path) -> None:
    """Both peers call restartIce() at the same instant, round after round until the offers
    collided (at least three rounds): the impolite side keeps its offer, the polite side rolls
    back; every round ends stable on a new ICE generation with media flowing both ways."""
    name = f"gl{kinds[0][0]}{kinds[1][0]}"
    async with LabCall("two_peers", name, HOSTS, dict(zip(ROLES, kinds, strict=False)), tmp_path) as call:
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
