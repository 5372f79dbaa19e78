"""No Chromium process and no profile folder outlives its trial: after a normal stop, after the
agent is killed with -9 mid-call, and after `icelab clean` when a browser was left behind."""

from __future__ import annotations

import asyncio
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
from tests.chromium.conftest import chromium_processes
from tests.chromium.harness import ROOT, LabCall

pytestmark = pytest.mark.usefixtures("no_leftovers")


async def test_agent_killed_mid_call_leaves_nothing(tmp_path: Path) -> None:
    kinds = {"offerer": "aiortc", "answerer": "chromium"}
    async with LabCall("two_peers", "k9", {"offerer": "alice", "answerer": "bob"}, kinds, tmp_path) as call:
        await call.wait(lambda: call.media_flowing(0), 60, "media both ways")
        profile = Path(call.of("answerer", "browser_ready")[0]["profile"])
        assert profile.is_dir() and browser_pids(str(profile))
        os.kill(call.agents["answerer"].pid, signal.SIGKILL)
        await asyncio.sleep(0.5)
        assert call.agents["answerer"].process.poll() is not None
    # the orchestrator's handle on the agent swept what was left (checked by no_leftovers too)
    assert not profile.exists()


def test_icelab_clean_removes_a_browser_left_behind(tmp_path: Path) -> None:
    """The agent, its Playwright driver and the orchestrator all die at once while the browser
    is frozen (so nothing closes it): `icelab clean` kills it and removes its profile."""
    from lab.net import Network, load_topology

    net = Network.up(load_topology(ROOT / "topologies" / "two_peers.toml"), name="cl")
    config = AgentConfig(trial_id="cl", role="answerer", host="bob", kind="chromium", polite=True,
                         restarts=False, policy=PolicySpec.model_validate("none"), wait_for_start=True)
    agent = net.popen("bob", [sys.executable, "-m", "lab.runtime.chromium", config.model_dump_json()],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                      stderr=(tmp_path / "agent.log").open("wb"))
    try:
        assert agent.stdout is not None
        profile = None
        for line in agent.stdout:
            record = json.loads(line)
            if record["kind"] == "browser_ready":
                profile = Path(record["profile"])
                break
        assert profile is not None and profile.is_dir()
        browser = browser_pids(str(profile))
        assert browser
        for pid in browser:
            os.kill(pid, signal.SIGSTOP)
        descendants = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == agent.pid]
        for pid in [agent.pid, *descendants]:
            os.kill(pid, signal.SIGKILL)
        agent.wait()
        time.sleep(0.3)
        assert profile.is_dir() and set(browser) & chromium_processes(), "the browser should be left behind"
    finally:
        done = subprocess.run([sys.executable, "-m", "lab", "clean"], capture_output=True, text=True,
                              timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 10
    while set(browser) & chromium_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(browser) & chromium_processes()
    assert not profile.exists()


def _parent(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1
