"""No browser process and no profile folder outlives its agent: after the agent is killed with
-9 mid-call, and after `icelab clean` when a browser was left behind (each browser kind)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.contract import AgentConfig
from lab.experiment.spec import PolicySpec
from lab.runtime.chromium.browser import browser_pids
from tests.browsers.conftest import browser_processes
from tests.browsers.harness import ROOT, LabCall

pytestmark = pytest.mark.usefixtures("no_leftovers")

# processes of a fresh browser: Chromium's parent at least; Firefox's parent and its content processes
MIN_PROCESSES = {"chromium": 1, "firefox": 2}


async def test_agent_killed_mid_call_leaves_nothing(kind: str, tmp_path: Path) -> None:
    kinds = {"offerer": "aiortc", "answerer": kind}
    async with LabCall("two_peers", f"{kind[0]}k9", {"offerer": "alice", "answerer": "bob"}, kinds, tmp_path) as call:
        await call.wait(lambda: call.media_flowing(0), 60, "media both ways")
        profile = Path(call.of("answerer", "browser_ready")[0]["profile"])
        assert profile.is_dir() and browser_pids(str(profile))
        os.kill(call.agents["answerer"].pid, signal.SIGKILL)
        await asyncio.sleep(0.5)
        assert call.agents["answerer"].process.poll() is not None
    # the orchestrator's handle on the agent swept what was left (checked by no_leftovers too)
    assert not profile.exists()


def test_icelab_clean_removes_a_browser_left_behind(kind: str, tmp_path: Path) -> None:
    """The agent, its helpers (Chromium's Playwright driver) and the orchestrator all die at once
    while the browser is frozen (so nothing closes it): `icelab clean` kills every browser
    process and removes the profile."""
    from lab.net import Network, load_topology

    net = Network.up(load_topology(ROOT / "topologies" / "two_peers.toml"), name=f"{kind[0]}cl")
    config = AgentConfig(trial_id=f"{kind[0]}cl", role="answerer", host="bob", kind=kind, polite=True,
                         restarts=False, policy=PolicySpec.model_validate("none"), wait_for_start=True)
    agent = net.popen("bob", [sys.executable, "-m", f"lab.runtime.{kind}", config.model_dump_json()],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                      stderr=(tmp_path / "agent.log").open("wb"))
    browser: list[int] = []
    profile = None
    try:
        assert agent.stdout is not None
        for line in agent.stdout:
            record = json.loads(line)
            if record["kind"] == "browser_ready":
                profile = Path(record["profile"])
                break
        assert profile is not None and profile.is_dir()
        browser = browser_pids(str(profile))
        assert len(browser) >= MIN_PROCESSES[kind], browser
        for pid in browser:
            # a browser reaps short-lived helpers of its own: one may be gone by now
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        helpers = [int(p.name) for p in Path("/proc").iterdir()
                   if p.name.isdigit() and _parent(p) == agent.pid and int(p.name) not in browser]
        for pid in [agent.pid, *helpers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        agent.wait()
        time.sleep(0.3)
        assert profile.is_dir() and set(browser) & browser_processes(), "the browser should be left behind"
    finally:
        done = subprocess.run([sys.executable, "-m", "lab", "clean"], capture_output=True, text=True,
                              timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "browser processes" in done.stdout, done.stdout
    deadline = time.monotonic() + 10
    while set(browser) & browser_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(browser) & browser_processes()
    assert profile is not None and not profile.exists()


def _parent(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1
