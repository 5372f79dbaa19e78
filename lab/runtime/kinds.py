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


def base_kind(kind: str) -> str:
    """"aiortc~chrome" (a stand-in: aiortc with a lab.rtc profile) -> "aiortc"."""
    return kind.partition("~")[0]


def agent_module(kind: str) -> str:
    return KINDS[base_kind(kind)].module


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
    check = KINDS[base_kind(kind)].missing
    return check() if check is not None else None


def browser_checks() -> list[Any]:
    """`icelab doctor` lines: the browsers of the browser peer kinds and their versions."""
    from lab.net.doctor import Check
    from lab.runtime.firefox.browser import firefox_binary, firefox_version

    checks = []
    why = _chromium_missing()
    if why is None:
        from lab.runtime.chromium.browser import CHROMIUM

        done = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30)
        checks.append(Check("chromium (peer kind chromium)", done.returncode == 0,
                            done.stdout.strip() or done.stderr.strip()[:120], required=False))
    else:
        checks.append(Check("chromium (peer kind chromium)", False, why, required=False))
    version = firefox_version()
    if version is not None:
        checks.append(Check("firefox (peer kind firefox)", True, f"{version} at {firefox_binary()}", required=False))
    else:
        checks.append(Check("firefox (peer kind firefox)", False, _firefox_missing() or "does not start", required=False))
    return checks


def check_installed(spec: Any, runtime: str) -> None:
    """Before a run creates anything: every peer kind the experiment uses can start here.

    On the docker runtime the browsers live in the peer image (its build checks them)."""
    from lab.errors import ConfigError

    if runtime != "netns":
        return
    uses: dict[str, str] = {}
    for pair in spec.matrix.pairs():
        for index, role in enumerate(("offerer", "answerer")):
            kind = pair[index] if pair is not None else spec.peers.kind_of(role)
            key = "matrix.peer_pairs" if pair is not None else (
                f"peers.{role}_kind" if getattr(spec.peers, f"{role}_kind") else "peers.kind")
            uses.setdefault(kind, key)
    for kind, key in uses.items():
        why = missing(kind)
        if why is not None:
            raise ConfigError(spec.source, key, f"peer kind {kind!r} cannot run on this machine: {why}")
