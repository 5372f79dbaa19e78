"""The ported suite can fail: a representative subset run against plain aiortc.RTCPeerConnection.

Only tests whose APIs aiortc has are run (no restartIce(), pendingLocalDescription, ...): what
fails is behaviour, not a missing attribute. Each must fail there; the same functions pass on
lab.rtc in the rest of this folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from . import harness
from . import test_onnegotiationneeded as negotiationneeded
from . import test_perfect_negotiation as perfect
from . import test_set_local_description_rollback as local_rollback
from . import test_set_remote_description_rollback as remote_rollback
from .harness import Peers, use_plain_aiortc
from .perfect_negotiation_helper import setup_ab


def with_peers(test: Callable[[Peers], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        peers = Peers()
        try:
            await test(peers)
        finally:
            await peers.close()

    return run


def with_roles(test: Callable[[Any], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        a, b = setup_ab(True, False)
        try:
            await test((a, b))
        finally:
            await a.close()
            await b.close()

    return run


REPRESENTATIVE: dict[str, Callable[[], Awaitable[None]]] = {
    "addTransceiver() should fire negotiationneeded event": with_peers(
        negotiationneeded.test_add_transceiver_fires_negotiationneeded
    ),
    "Creating first data channel should fire negotiationneeded event": with_peers(
        negotiationneeded.test_creating_first_data_channel_fires_negotiationneeded
    ),
    "setLocalDescription(rollback) from stable state should reject with InvalidStateError": with_peers(
        local_rollback.test_rollback_from_stable_rejects
    ),
    "setRemoteDescription(rollback) from stable state should reject with InvalidStateError": with_peers(
        remote_rollback.test_rollback_from_stable_rejects
    ),
    "setRemoteDescription(rollback) in have-local-offer should reject with InvalidStateError": with_peers(
        remote_rollback.test_rollback_in_have_local_offer_rejects
    ),
    "rollback of a remote offer should remove a transceiver": with_peers(
        remote_rollback.test_rollback_of_remote_offer_removes_a_transceiver
    ),
    "implicit rollback of a local offer should visit stable state": with_peers(
        remote_rollback.test_implicit_rollback_visits_stable
    ),
    "Perfect negotiation setup connects": with_roles(perfect.test_perfect_negotiation_setup_connects),
}


async def test_representative_subset_fails_on_plain_aiortc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "EVENT_TIMEOUT", 1.0)  # aiortc never fires negotiationneeded
    outcomes: dict[str, str] = {}
    with use_plain_aiortc():
        for name, run in REPRESENTATIVE.items():
            try:
                await asyncio.wait_for(run(), 30)
            except (Exception, pytest.fail.Exception) as exc:  # assert, timeout, aiortc error
                outcomes[name] = f"fails ({type(exc).__name__})"
            else:
                outcomes[name] = "passes"
    print("\n".join(f"plain aiortc: {name}: {outcome}" for name, outcome in outcomes.items()))
    assert all(outcome.startswith("fails") for outcome in outcomes.values()), outcomes
