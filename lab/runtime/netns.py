"""The netns runtime: each peer agent is a process inside its host's network namespace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lab.contract import AgentConfig
from lab.runtime.base import AgentProcess, EventCallback
from lab.runtime.kinds import agent_argv, agent_process, missing

if TYPE_CHECKING:
    from lab.net.network import Network
    from lab.sfu.janus import Janus
    from lab.sfu.spec import SfuSpec
    from lab.turn.relay import Relay


class NetnsRuntime:
    name = "netns"

    def __init__(self, network: Network, python: str = sys.executable) -> None:
        self.network = network
        self.python = python

    @staticmethod
    def preflight() -> None:
        """Nothing to check: namespaces are what lab.net builds anyway."""

    @classmethod
    def prepare(cls, net: Network, out_dir: Path, peers: list[str]) -> NetnsRuntime:
        return cls(net)

    @staticmethod
    def peer_kind_missing(kind: str) -> str | None:
        """Peers run on this machine: a browser kind needs its browser installed here."""
        return missing(kind)

    def start_relays(self, out_dir: Path) -> list[Relay]:
        from lab.turn.topology import start_relays

        return start_relays(self.network, out_dir)

    def attach_sfu(self, spec: SfuSpec, out_dir: Path, file: str | Path | None = None) -> Janus:
        """Janus as a process in the SFU host's namespace."""
        from lab.sfu.topology import attach_janus

        return attach_janus(self.network, spec, out_dir, file)

    def close(self) -> None:
        """Nothing of its own: the agents and relays are stopped by their owners."""

    def start_agent(self, config: AgentConfig, log_path: Path, on_event: EventCallback) -> AgentProcess:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        process = self.network.popen(
            config.host, agent_argv(self.python, config),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
        )
        return agent_process(config, process, on_event, log_file)
