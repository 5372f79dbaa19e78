"""The agent's negotiators log in seed 004's shape: named by role ([peer-polite]/[peer-impolite]).

Two real agent sessions (lab.runtime.agent.session) in this process, on loopback, talking
through a real SignalingServer; only the orchestrator's control pipe is replaced by a recorder.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from lab.experiment.spec import PolicySpec
from lab.rtc.signaling import SignalingServer
from lab.runtime.agent.config import AgentConfig, SignalingConfig
from lab.runtime.agent.session import PeerSession


class _Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, kind: str, t: float | None = None, **fields: Any) -> None:
        self.events.append({"kind": kind, "t": t, **fields})


def _config(role: str, polite: bool, url: str) -> AgentConfig:
    return AgentConfig(
        trial_id="names", role=role, host=f"host-{role}", polite=polite, restarts=False,
        policy=PolicySpec(name="none"), signaling=SignalingConfig(path="lab", url=url, room="names"),
        watch_network=False,
    )


async def test_agent_negotiator_log_lines_are_named_by_role(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lab.rtc.negotiation")
    async with SignalingServer("127.0.0.1", 0) as server:
        offerer = PeerSession(_config("offerer", False, server.url), _Recorder())  # type: ignore[arg-type]
        answerer = PeerSession(_config("answerer", True, server.url), _Recorder())  # type: ignore[arg-type]
        try:
            await offerer.start()
            await answerer.start()
            for _ in range(600):
                if any("setLocalDescription(answer) -> sent" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.05)
        finally:
            await answerer.stop()
            await offerer.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "lab.rtc.negotiation"]
    tags = {m.group(1) for line in lines if (m := re.match(r"\[([^\]]+)\]", line))}
    assert "[peer-impolite] negotiationneeded -> setLocalDescription(offer)" in lines, lines
    assert "[peer-polite] setLocalDescription(answer) -> sent" in lines, lines
    assert tags <= {"peer-polite", "peer-impolite"}, tags
