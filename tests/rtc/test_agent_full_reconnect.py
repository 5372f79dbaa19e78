"""Two agent sessions (lab.runtime.agent.session) in one process, signaling relayed the way the
orchestrator relays it: a full reconnect whose first message of the new connection generation
arrives right behind the reconnect notice, before the receiving agent has built that generation.

The control pipe is the one thing played here (the test is the orchestrator); the peer
connections, their negotiation and media are real, on loopback only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lab.contract import AgentConfig, Restart
from lab.experiment.spec import PolicySpec
from lab.runtime.agent import interfaces
from lab.runtime.agent.session import PeerSession

from .peers import wait_for


class RelayedControl:
    """An agent's control pipe as the orchestrator sees it: events recorded, 'signal' relayed.

    A reconnect notice is held back with what follows it up to the new generation's first
    description, then all of it is handed over in one go: the offer reaches the other agent
    before its new connection exists (the race of a full reconnect, made certain)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.peer: PeerSession | None = None
        self._held: list[dict[str, Any]] | None = None
        self.closed = False

    def emit(self, kind: str, t: float | None = None, **fields: Any) -> None:
        if kind != "signal":
            self.events.append({"kind": kind, **fields})
            return
        message = fields["msg"]
        if "reconnect" in message:
            self._held = []
        if self._held is not None:
            self._held.append(message)
            if "description" not in message:
                return
        burst, self._held = self._held or [message], None
        asyncio.get_running_loop().call_soon(self._relay, burst)

    def _relay(self, burst: list[dict[str, Any]]) -> None:
        assert self.peer is not None
        for message in burst:
            self.peer.signaling.deliver(message)


def agent_config(role: str, action: str = "full-reconnect") -> AgentConfig:
    """An agent restarting by `action` when told to (never by itself: no timer, no 'failed')."""
    return AgentConfig(
        trial_id="reconnect", role=role, host=role, polite=role == "answerer", restarts=True,
        policy=PolicySpec(name="fr", action=action, retry_s=120, also_on_failed=False),  # type: ignore[arg-type]
        watch_network=False,
    )


async def test_messages_of_a_generation_not_built_yet_wait_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interfaces, "usable_ipv4_addresses", lambda: ["127.0.0.1"])
    controls = {role: RelayedControl(role) for role in ("offerer", "answerer")}
    sessions = {role: PeerSession(agent_config(role), controls[role]) for role in controls}  # type: ignore[arg-type]
    controls["offerer"].peer, controls["answerer"].peer = sessions["answerer"], sessions["offerer"]

    def connected(generation: int) -> bool:
        return all(s.generation == generation and s.pc is not None and s.pc.connectionState == "connected"
                   for s in sessions.values())

    try:
        for session in sessions.values():
            await session.start()
        await wait_for(lambda: connected(0), 30, "first connection")
        await sessions["offerer"].command(Restart(reason="test"))
        await wait_for(lambda: connected(1), 30, "both agents connected on connection generation 1")
        replaced = [e for e in controls["answerer"].events if e["kind"] == "pc_replaced"]
        assert [e["gen"] for e in replaced] == [1]
        errors = [e for c in controls.values() for e in c.events if e["kind"] == "error"]
        assert not errors, errors
    finally:
        for session in sessions.values():
            await session.stop()
