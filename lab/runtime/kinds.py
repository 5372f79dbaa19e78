"""Peer kinds: which agent module runs a kind, which handle the orchestrator keeps on it, and
whether the kind can run on this machine (its browser installed).

    aiortc    lab.runtime.agent     lab.rtc's restartable aiortc
    chromium  lab.runtime.chromium  Debian's Chromium through Playwright
    firefox   lab.runtime.firefox   Debian's Firefox ESR over WebDriver BiDi
"""

from __future__ import annotations

import importlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.runtime.agent.config import AgentConfig
from lab.runtime.base import AgentProcess, EventCallback


@dataclass(frozen=True)
class PeerKind:
    name: str
    module: str                   # `python -m <module> CONFIG_JSON`
    process: str | None = None    # "module:Class" of the orchestrator's handle (an AgentProcess)
    missing: Callable[[], str | None] | None = None  # why it cannot run here, or None


def _chromium_missing() -> str | None:
    from lab.runtime.chromium.browser import CHROMIUM

    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}: install Debian's chromium (scripts/setup-debian.sh)"
    return None


def _firefox_missing() -> str | None:
    from lab.runtime.firefox.browser import firefox_binary

    if firefox_binary() is None:
        return "no Firefox: install Debian's firefox-esr (scripts/setup-debian.sh), or set ICELAB_FIREFOX"
    return None


KINDS: dict[str, PeerKind] = {
    "aiortc": PeerKind("aiortc", "lab.runtime.agent"),
    "chromium": PeerKind("chromium", "lab.runtime.chromium", "lab.runtime.chromium.process:BrowserAgentProcess",
                         _chromium_missing),
    "firefox": PeerKind("firefox", "lab.runtime.firefox", "lab.runtime.firefox.process:FirefoxAgentProcess",
                        _firefox_missing),
}


def agent_module(kind: str) -> str:
    return KINDS[kind].module


def agent_process(config: AgentConfig, process: subprocess.Popen[bytes], on_event: EventCallback,
                  log_file: Any = None) -> AgentProcess:
    """The orchestrator's handle on a started agent of config.kind."""
    target = KINDS[config.kind].process
    if target is None:
        return AgentProcess(config.role, process, on_event, log_file)
    module, cls = target.split(":")
    handle: AgentProcess = getattr(importlib.import_module(module), cls)(config, process, on_event, log_file)
    return handle


def missing(kind: str) -> str | None:
    """Why a peer of this kind cannot start on this machine (netns runtime), or None."""
    check = KINDS[kind].missing
    return check() if check is not None else None
