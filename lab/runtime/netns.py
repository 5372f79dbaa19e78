"""The netns runtime: each peer agent is a process inside its host's network namespace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lab.runtime.agent.config import AgentConfig
from lab.runtime.base import AgentProcess, EventCallback, agent_argv


class NetnsRuntime:
    name = "netns"

    def __init__(self, network: object, python: str = sys.executable) -> None:
        self.network = network
        self.python = python

    def start_agent(self, config: AgentConfig, log_path: Path, on_event: EventCallback) -> AgentProcess:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        process = self.network.popen(  # type: ignore[attr-defined]
            config.host, agent_argv(self.python, config),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
        )
        from lab.runtime.kinds import agent_process

        return agent_process(config, process, on_event, log_file)
