"""Firefox <-> Chromium and Firefox <-> aiortc calls through two port-restricted NATs
(topologies/two_peers.toml): the call completes, ICE restarts from either side reach a new
generation with media both ways, and simultaneous restarts (glare) resolve whichever side is
polite. One call per test, reused across its steps."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab.contract import Restart
from tests.chromium.harness import ROLES, LabCall

pytestmark = pytest.mark.usefixtures("no_leftovers")

HOSTS = {"offerer": "alice", "answerer": "bob"}
MAX_ROUNDS = 8
PAIRS = [("firefox", "chromium"), ("chromium", "firefox"), ("firefox", "aiortc"), ("aiortc", "firefox")]
IDS = [f"{o}-{a}" for o, a in PAIRS]


def on_generation_since(call: LabCall, since: float, generation: int) -> bool:
    return all(any((r.get("generation") or 0) >= generation for r in call.of(role, "selected_pair", since))
               for role in ROLES)


@pytest.mark.parametrize("kinds", PAIRS, ids=IDS)
async def test_call_and_restart_from_either_side(kinds: tuple[str, str], tmp_path: Path) -> None:
    name = f"rs{kinds[0][0]}{kinds[1][0]}"
    async with LabCall("two_peers", name, HOSTS, dict(zip(ROLES, kinds, strict=False)), tmp_path) as call:
        await call.wait(lambda: call.media_flowing(0), 60, "media both ways")
        for role in ROLES:
            if dict(zip(ROLES, kinds, strict=False))[role] == "firefox":
                ready = call.of(role, "agent_ready")[0]
                assert ready["peer_kind"] == "firefox" and ready["detection"] == "firefox-builtin"
                assert ready["clock_uncertainty_ms"] < 50
                # per-packet receive times: Firefox's RTCRtpScriptTransform metadata, real RTP numbers
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

            await call.wait(restarted, 45, f"restart by the {role} ({kinds[ROLES.index(role)]}): "
                                            f"generation {generation} with media both ways")
            restarts = [r for r in call.of(role, "restart", t0)]
            assert restarts and restarts[0]["reason"] == f"test-{role}"
            errors = [r for who in ROLES for r in call.of(who, "negotiation", t0) if r.get("event") == "error"]
            assert not errors, errors


@pytest.mark.parametrize("kinds", PAIRS, ids=[f"{i}-{'firefox-impolite' if k[0] == 'firefox' else 'firefox-polite'}"
                                              for i, k in zip(IDS, PAIRS, strict=False)])
async def test_glare_resolves(kinds: tuple[str, str], tmp_path: Path) -> None:
    """Both peers call restartIce() at the same instant, round after round until the offers
    collided (at least three rounds): the impolite side (the offerer) keeps its offer, the polite
    side rolls back; every round ends stable with media flowing both ways."""
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
                    call.state(role, "signaling_state") == "stable" and call.state(role) == "connected"
                    and len(call.of(role, "selected_pair", t0)) >= 1
                    for role in ROLES
                ) and call.media_flowing(time.monotonic() - 0.5, units=10)

            await call.wait(settled, 45, f"round {round_}: stable, new pair, media")
            for role in ROLES:
                seen[role] |= {str(r.get("action")) for r in call.of(role, "negotiation", t0) if r.get("event") == "glare"}
            errors = [r for role in ROLES for r in call.of(role, "negotiation", t0) if r.get("event") == "error"]
            assert not errors, errors
        polite, impolite = "answerer", "offerer"
        assert "implicit_rollback" in seen[polite] or "ignore_offer" in seen[impolite], \
            f"no collision in {MAX_ROUNDS} rounds of simultaneous restarts: {seen}"
        assert "ignore_offer" not in seen[polite] and "implicit_rollback" not in seen[impolite], seen
