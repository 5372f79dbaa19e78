"""The scripts in examples/ run as a user would run them, on the real lab."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lab import naming

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("turnserver") is None, reason="needs coturn (scripts/setup-debian.sh)")


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)


def lab_namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip() and naming.is_lab_netns(line.split()[0])]


def test_topology_and_ping() -> None:
    done = run("topology_ping.py")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "alice 192.168.1." in done.stdout and "server 198.51.100.2: reachable" in done.stdout
    assert "alice's public address: 198.51.100.10" in done.stdout
    assert lab_namespaces() == []


def test_one_trial_to_a_dataframe(tmp_path: Path) -> None:
    done = run("one_trial.py", str(tmp_path / "run"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert trials["status"].tolist() == ["ok"] and bool(trials["recovered"].iloc[0])
    assert "on-disconnected-rtt0-loss0-r0" in done.stdout
    assert lab_namespaces() == []


def test_a_custom_fault(tmp_path: Path) -> None:
    done = run("custom_fault.py", str(tmp_path / "run"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    events = pd.read_parquet(tmp_path / "run" / "events.parquet")
    kinds = events.loc[events["peer"] == "orchestrator", "kind"].tolist()
    assert kinds.count("fault") == 1 and "fault_step" in kinds and "fault_end" in kinds
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert trials["fault"].tolist() == ["link_flap"]
    assert lab_namespaces() == []
