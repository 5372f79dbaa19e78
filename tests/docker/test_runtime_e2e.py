"""One scenario on both runtimes: a 2 s blackhole of alice's NAT uplink, restart on
'disconnected'. Both recover, the results have the same schema, and the metrics agree within
noise (a loose bound: the lab's timing is the same, only where the peers run differs)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.docker.conftest import DOCKER
from tests.experiment.short_blackhole import short_blackhole

pytestmark = DOCKER

EXPERIMENT = short_blackhole("docker_vs_netns", seed=5)
# Loose: scheduling on a loaded 2-core machine moves a media gap by a few hundred ms.
GAP_TOLERANCE_MS = 1500.0


def _run(spec: Path, runtime: str, out: Path) -> pd.DataFrame:
    done = subprocess.run([sys.executable, "-m", "lab", "run", str(spec), "--runtime", runtime, "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    return pd.read_parquet(out / "trials.parquet")


def test_one_scenario_recovers_alike_on_both_runtimes(tmp_path: Path) -> None:
    spec = tmp_path / "docker_vs_netns.toml"
    spec.write_text(EXPERIMENT)
    netns = _run(spec, "netns", tmp_path / "run-netns")
    docker = _run(spec, "docker", tmp_path / "run-docker")

    assert list(docker.columns) == list(netns.columns)
    assert docker["runtime"].tolist() == ["docker"] and netns["runtime"].tolist() == ["netns"]
    for frame in (netns, docker):
        row = frame.iloc[0]
        assert row["status"] == "ok", row.get("failure_reason")
        assert bool(row["recovered"]), row.get("failure_reason")
    a, b = netns.iloc[0], docker.iloc[0]
    # The blackhole lasts 2 s: each runtime's media gap is at least that, and they agree.
    for row in (a, b):
        assert row["media_gap_ms"] >= 1900.0
    assert abs(a["media_gap_ms"] - b["media_gap_ms"]) <= GAP_TOLERANCE_MS
    assert abs(a["detection_ms"] - b["detection_ms"]) <= GAP_TOLERANCE_MS
    assert not math.isnan(b["setup_ms"])

    trial_dir = next((tmp_path / "run-docker" / "trials").iterdir())
    logs = {p.name for p in trial_dir.iterdir()}
    assert {"agent-offerer.log", "agent-answerer.log", "relay-relay.log", "containers.json"} <= logs
    # Relay state (config, pid, userdb) lived in the trial topology's state folder and went with it;
    # only the lab CA stays in the TURN state folder.
    from lab.turn.relay import turn_state_dir

    assert not [p for p in turn_state_dir().glob("*") if p.is_dir()]
