"""Launching and always removing headless Chromium: profile folder, process sweep.

Every browser gets a fresh profile folder under the lab's state folder
(<state>/chromium/<trial>-<role>-<token>; `icelab clean` removes the state folder), and every
process of the browser carries the environment marker ICELAB_BROWSER_PROFILE=<that folder>, so
that whoever cleans up (the agent, the orchestrator after the agent was killed) finds the
browser's processes by that marker, kills them and removes the folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import naming

CHROMIUM = "/usr/bin/chromium"
MARKER = "ICELAB_BROWSER_PROFILE"

# quiet on a closed network, fake camera and microphone, audio playout without a user gesture
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # the lab names hosts by address: no name is ever resolved, so no DNS query leaves the
    # namespace (idle Chromium asked the machine's resolver for update.googleapis.com,
    # clients2.google.com, accounts.google.com...; tests/browsers/test_network.py). The rules
    # apply to address literals too: those (they start with a digit) are excluded.
    "--host-resolver-rules=MAP * ~NOTFOUND, " + ", ".join(f"EXCLUDE {digit}*" for digit in range(10)),
]


def profiles_root() -> Path:
    return naming.browser_profiles_dir("chromium")


def new_profile_dir(trial_id: str, role: str) -> Path:
    return naming.new_browser_profile("chromium", trial_id, role)


def marked_pids(prefix: str) -> list[int]:
    """Processes whose environment has MARKER=<a path starting with prefix>."""
    needle = f"{MARKER}={prefix}".encode()
    pids: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes()
        except OSError:
            continue
        if any(item.startswith(needle) for item in environ.split(b"\0")):
            pids.append(int(entry.name))
    return pids


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields follow the last ')'
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def browser_pids(prefix: str) -> list[int]:
    """The marked processes and all their descendants (Chromium starts its zygotes with a
    cleaned environment, so only the browser process itself carries the marker)."""
    roots = set(marked_pids(prefix))
    return descendants(roots) if roots else []


def descendants(roots: Iterable[int]) -> list[int]:
    """The processes and all their descendants, by /proc's parent links."""
    parents = _parents()
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return sorted(found)


def sweep(profile_prefix: str | Path) -> int:
    """Kill every browser process of the profile(s) and remove the folder(s); returns kills."""
    prefix = str(profile_prefix)
    killed = 0
    for pid in browser_pids(prefix):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    base = Path(prefix)
    for path in base.parent.glob(base.name + "*") if base.parent.is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)
    return killed


@dataclass
class Browser:
    """A launched Chromium (a Playwright persistent context) and its profile folder."""

    playwright: Any
    context: Any
    profile: Path
    version: str

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.context.close()
        with contextlib.suppress(Exception):
            await self.playwright.stop()
        sweep(self.profile)


class BrowserMissing(RuntimeError):
    """The system Chromium or Playwright is not installed where the agent runs."""


async def launch(profile: Path, extra_args: list[str] | None = None) -> Browser:
    if not Path(CHROMIUM).exists():
        sweep(profile)
        raise BrowserMissing(f"no Chromium at {CHROMIUM}: install Debian's chromium (scripts/setup-debian.sh), "
                             "or rebuild the Docker peer image (make images)")
    try:
        from playwright.async_api import async_playwright
    except ImportError as error:
        sweep(profile)
        raise BrowserMissing("the playwright package is missing (pip install -e .); never `playwright install`") from error

    playwright = await async_playwright().start()
    try:
        context = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=FLAGS + list(extra_args or []),
            env={**os.environ, MARKER: str(profile)},
            handle_sigint=False, handle_sigterm=False, handle_sighup=False,
        )
    except BaseException:
        with contextlib.suppress(Exception):
            await playwright.stop()
        sweep(profile)
        raise
    version = context.browser.version if context.browser is not None else "?"
    return Browser(playwright, context, profile, version)
