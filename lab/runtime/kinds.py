"""Peer kinds: which agent module runs a kind, which handle the orchestrator keeps on it, and
whether the kind can run on this machine (its browser installed).

    aiortc    lab.runtime.agent     lab.rtc's restartable aiortc
    chromium  lab.runtime.chromium  Debian's Chromium through Playwright
    firefox   lab.runtime.firefox   Debian's Firefox ESR over WebDriver BiDi

Every runtime (lab.runtime.netns, lab.runtime.docker) starts its agents through this registry
(`agent_argv`, `agent_process`), and says through its RuntimeKind.peer_kind_missing whether a
kind can run where it puts peers; lab.experiment.check asks it before a run creates anything.
A new kind is one `register_peer_kind` call.
"""

from __future__ import annotations

import importlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.contract import AgentConfig
from lab.runtime.base import AgentProcess, EventCallback


@dataclass(frozen=True)
class PeerImplementation:
    name: str                     # AgentConfig.kind
    module: str                   # `python -m <module> CONFIG_JSON`
    process: str | None = None    # "module:Class" of the orchestrator's handle (an AgentProcess)
    missing: Callable[[], str | None] | None = None  # why it cannot run on this machine, or None
    browser: bool = False         # a real browser: has a network history (lab.experiment.browser_state)


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


KINDS: dict[str, PeerImplementation] = {}


def register_peer_kind(kind: PeerImplementation) -> None:
    KINDS[kind.name] = kind


register_peer_kind(PeerImplementation("aiortc", "lab.runtime.agent"))
register_peer_kind(PeerImplementation("chromium", "lab.runtime.chromium",
                                      "lab.runtime.chromium.process:BrowserAgentProcess", _chromium_missing,
                                      browser=True))
register_peer_kind(PeerImplementation("firefox", "lab.runtime.firefox",
                                      "lab.runtime.firefox.process:FirefoxAgentProcess", _firefox_missing,
                                      browser=True))


def base_kind(kind: str) -> str:
    """"aiortc~chrome" (a stand-in: aiortc with a lab.rtc profile) -> "aiortc"."""
    return kind.partition("~")[0]


def peer_implementation(kind: str) -> PeerImplementation:
    from lab.errors import LabError

    try:
        return KINDS[base_kind(kind)]
    except KeyError:
        raise LabError(f"unknown peer kind {kind!r} (one of {', '.join(KINDS)})") from None


def is_browser(kind: str) -> bool:
    """Whether a peer of this kind is a real browser (a stand-in such as "aiortc~chrome" is not)."""
    return peer_implementation(kind).browser


def agent_argv(python: str, config: AgentConfig) -> list[str]:
    """The command line of config.kind's agent, run by `python` (wherever the runtime runs it)."""
    return [python, "-m", peer_implementation(config.kind).module, config.model_dump_json()]


def agent_process(config: AgentConfig, process: subprocess.Popen[bytes], on_event: EventCallback,
                  log_file: Any = None) -> AgentProcess:
    """The orchestrator's handle on a started agent of config.kind."""
    target = peer_implementation(config.kind).process
    if target is None:
        return AgentProcess(config.role, process, on_event, log_file)
    module, cls = target.split(":")
    handle: AgentProcess = getattr(importlib.import_module(module), cls)(config, process, on_event, log_file)
    return handle


def missing(kind: str) -> str | None:
    """Why a peer of this kind cannot start on this machine (the netns runtime), or None."""
    check = peer_implementation(kind).missing
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
