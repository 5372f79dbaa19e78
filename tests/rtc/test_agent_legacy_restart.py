"""The legacy restart action (`ice-restart-offer`): the agent makes its own offer with
iceRestart=True and sends it through the negotiator's public `send_local_description`; the other
agent answers and both move to the new ICE generation on the same peer connection.

Two real agent sessions in one process, signaling relayed over played control pipes (the test is
the orchestrator, as in test_agent_full_reconnect); peer connections and media are real, on
loopback only.
"""

from __future__ import annotations

import pytest

from lab.contract import Restart
from lab.runtime.agent import interfaces
from lab.runtime.agent.session import PeerSession

from .peers import wait_for
from .test_agent_full_reconnect import RelayedControl, agent_config


async def test_a_legacy_restart_offer_reaches_the_other_agent_and_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interfaces, "usable_ipv4_addresses", lambda: ["127.0.0.1"])
    controls = {role: RelayedControl(role) for role in ("offerer", "answerer")}
    sessions = {role: PeerSession(agent_config(role, "ice-restart-offer"), controls[role]) for role in controls}  # type: ignore[arg-type]
    controls["offerer"].peer, controls["answerer"].peer = sessions["answerer"], sessions["offerer"]

    def events(role: str, kind: str) -> list[dict[str, object]]:
        return [e for e in controls[role].events if e["kind"] == kind]

    def connected() -> bool:
        return all(s.pc is not None and s.pc.connectionState == "connected" for s in sessions.values())

    try:
        for session in sessions.values():
            await session.start()
        await wait_for(connected, 30, "first connection")
        await wait_for(lambda: len(events("offerer", "answer_received")) == 1, 10, "the first answer")
        await sessions["offerer"].command(Restart(reason="test"))
        await wait_for(lambda: len(events("offerer", "answer_received")) == 2, 30, "the restart's answer")
        await wait_for(connected, 30, "both agents connected after the restart")
        offers = [e["ice_ufrag"] for e in events("answerer", "offer_received")]
        assert len(offers) == 2 and offers[0] != offers[1], "the restart offer carries a new ufrag"
        assert [e["action"] for e in events("offerer", "restart")] == ["ice-restart-offer"]
        assert not events("offerer", "pc_replaced") and all(s.generation == 0 for s in sessions.values())
        errors = [e for c in controls.values() for e in c.events if e["kind"] == "error"]
        assert not errors, errors
    finally:
        for session in sessions.values():
            await session.stop()
