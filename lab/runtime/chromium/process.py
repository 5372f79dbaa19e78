"""The orchestrator's handle on a browser agent: an AgentProcess that, once the agent is gone
(stopped, crashed, killed with -9), kills what is left of its browser and removes its profile."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from lab.contract import AgentConfig
from lab.runtime.base import AgentProcess, EventCallback
from lab.runtime.chromium.browser import profiles_root, sweep


class BrowserAgentProcess(AgentProcess):
    def __init__(self, config: AgentConfig, process: subprocess.Popen[bytes], on_event: EventCallback,
                 log_file: Any = None) -> None:
        super().__init__(config.role, process, on_event, log_file)
        # every profile of this agent starts with this prefix (see browser.new_profile_dir)
        self.profile_prefix: Path = profiles_root() / f"{config.trial_id}-{config.role}-"
        self.leftover_processes = 0

    async def stop(self, timeout: float = 5.0) -> int | None:
        # the browser agent needs a moment to close Chromium: at least 3 s before the kill
        try:
            return await super().stop(timeout=max(timeout, 3.0))
        finally:
            self.leftover_processes = sweep(self.profile_prefix)

    def kill(self) -> None:
        super().kill()
        self.leftover_processes = sweep(self.profile_prefix)
