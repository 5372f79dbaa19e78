"""The orchestrator's handle on a Firefox agent: after the agent is gone (stopped, crashed,
killed with -9), whatever is left of its Firefox is killed and its profile removed."""

from __future__ import annotations

import subprocess
from typing import Any

from lab.contract import AgentConfig
from lab.runtime.base import EventCallback
from lab.runtime.chromium.process import BrowserAgentProcess
from lab.runtime.firefox.browser import profiles_root


class FirefoxAgentProcess(BrowserAgentProcess):
    def __init__(self, config: AgentConfig, process: subprocess.Popen[bytes], on_event: EventCallback,
                 log_file: Any = None) -> None:
        super().__init__(config, process, on_event, log_file)
        self.profile_prefix = profiles_root() / f"{config.trial_id}-{config.role}-"
