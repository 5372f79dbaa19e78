"""The plain-aiortc baseline session (ICELAB_AGENT_PLAIN_AIORTC=1), on a lab topology: two agents
behind their NATs connect once, media flows both ways, the selected pair is reported (polled),
and an ICE restart is refused with an error event instead of being attempted."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from lab import Lab
from lab.contract import AgentConfig, Policy, Restart, Signal, SignalingConfig, Start
from lab.runtime.base import AgentProcess

ROOT = Path(__file__).resolve().parents[2]
HOSTS = {"offerer": "alice", "answerer": "bob"}
pytestmark = pytest.mark.slow


async def until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_plain_aiortc_connects_once_and_refuses_an_ice_restart(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICELAB_AGENT_PLAIN_AIORTC", "1")  # inherited by the agent processes
    events: list[tuple[str, dict[str, Any]]] = []
    agents: dict[str, AgentProcess] = {}

    def on_event(role: str, record: dict[str, Any]) -> None:
        if record.get("kind") == "signal":  # the control signaling path: relayed by us
            agents["answerer" if role == "offerer" else "offerer"].send(Signal(msg=record.get("msg")))
        else:
            events.append((role, record))

    def of(role: str, kind: str) -> list[dict[str, Any]]:
        return [r for who, r in events if who == role and r.get("kind") == kind]

    async with Lab(ROOT / "topologies" / "two_peers.toml", name=f"plain{os.getpid() % 1000}",
                   out_dir=tmp_path) as lab:
        servers = await lab.call(lab.ice_servers)
        for role, host in HOSTS.items():
            config = AgentConfig(trial_id="plain", role=role, host=host, polite=role == "answerer", restarts=True,  # type: ignore[arg-type]
                                 policy=Policy.model_validate("on-failed"), ice_servers=servers,
                                 signaling=SignalingConfig(path="control"), watch_network=False,
                                 wait_for_start=True)
            agents[role] = await lab.agent(config, lambda record, role=role: on_event(role, record))
        try:
            await until(lambda: all(of(r, "agent_loaded") for r in HOSTS), 60, "agents loaded")
            for agent in agents.values():
                agent.send(Start())
            await until(lambda: all(len(of(r, "media_rx")) > 20 for r in HOSTS), 40, "media both ways")
            assert all(of(r, "agent_ready")[0]["restartable"] is False for r in HOSTS)
            assert all(of(r, "selected_pair") for r in HOSTS)
            agents["offerer"].send(Restart(reason="test"))
            await until(lambda: of("offerer", "error"), 10, "the refusal")
            assert "ICE restart needs lab.rtc" in of("offerer", "error")[0]["message"]
        finally:
            await asyncio.gather(*(agent.stop(timeout=3.0) for agent in agents.values()), return_exceptions=True)
