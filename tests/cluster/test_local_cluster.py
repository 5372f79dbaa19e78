"""`icelab run --cluster local:2`: two loopback worker processes run a real experiment (aiortc
peers, coturn, a 2 s blackhole); the run folder has the shape a local run gives it, and
`--resume` against a cluster runs only what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lab.experiment.events import COLUMNS
from tests.cluster.conftest import icelab, lab_namespaces, needs_lab_tools

pytestmark = needs_lab_tools


def shape(run: Path) -> tuple[set[str], dict[str, set[str]], list[str], list[str]]:
    trials = pd.read_parquet(run / "trials.parquet")
    per_trial = {p.name: {f.name for f in p.iterdir()} for p in (run / "trials").iterdir()}
    return ({p.name for p in run.iterdir()}, per_trial, sorted(trials.columns),
            list(pd.read_parquet(run / "events.parquet").columns))


def test_local_cluster_run_has_the_shape_of_a_local_run(experiment: Path, tmp_path: Path) -> None:
    cluster_run, local_run = tmp_path / "cluster", tmp_path / "local"
    done = icelab("run", str(experiment), "--cluster", "local:2", "--out", str(cluster_run))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 trials run, 0 resumed, 2/2 recovered" in done.stdout, done.stdout + done.stderr[-3000:]
    assert "ETA" in done.stderr  # the progress bar of a local run
    local = icelab("run", str(experiment), "--jobs", "2", "--out", str(local_run))
    assert local.returncode == 0, local.stderr[-3000:]

    assert shape(cluster_run) == shape(local_run)
    trials = pd.read_parquet(cluster_run / "trials.parquet")
    assert trials["recovered"].all() and (trials["media_gap_ms"] > 1500).all()
    assert trials["trial_id"].is_unique and len(trials) == 2
    assert trials["host"].notna().all() and trials["kernel"].notna().all()
    assert set(trials["worker"]) <= {"0", "1"}  # the LocalCluster's workers ran them
    assert set(pd.read_parquet(local_run / "trials.parquet")["worker"]) == {"local"}
    events = pd.read_parquet(cluster_run / "events.parquet")
    assert list(events.columns) == COLUMNS and set(events["trial_id"]) == set(trials["trial_id"])
    info = json.loads((cluster_run / "run.json").read_text())
    assert info["engine"] == "local:2" and info["trials_completed"] == 2

    # the client died after one trial: --resume on the cluster runs only the other
    (cluster_run / "trials" / trials["trial_id"][1] / "result.json").unlink()
    resumed = icelab("run", str(experiment), "--cluster", "local:2", "--out", str(cluster_run), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 trials run, 1 resumed" in resumed.stdout
    assert len(pd.read_parquet(cluster_run / "trials.parquet")) == 2
    assert lab_namespaces() == []


def test_bad_cluster_addresses_exit_2(experiment: Path, tmp_path: Path) -> None:
    for address, says in (("local:0", "local:N"), ("tcp://10.1.2.3:8786", "loopback"),
                          ("tcp://127.0.0.1:8786", "--insecure"), ("tls://127.0.0.1:8786", "--certs"),
                          ("http://x:1", "tls://HOST:PORT")):
        done = icelab("run", str(experiment), "--cluster", address, "--out", str(tmp_path / "never"))
        assert done.returncode == 2, (address, done.stderr)
        assert says in done.stderr, (address, done.stderr)
    assert not (tmp_path / "never").exists()
