"""A small real experiment for the cluster tests: the end-to-end tests' short blackhole."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab import naming
from tests.experiment.short_blackhole import short_blackhole

ROOT = Path(__file__).resolve().parents[2]
ICELAB = [sys.executable, "-m", "lab"]

needs_lab_tools = pytest.mark.skipif(shutil.which("turnserver") is None, reason="needs coturn (scripts/setup-debian.sh)")


def icelab(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ICELAB, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def lab_namespaces(scope: str | None = None) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if naming.is_lab_netns(n, scope)]


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.toml"
    path.write_text(short_blackhole("cluster_blackhole", seed=5, repetitions=2, settle_s=1))
    return path
