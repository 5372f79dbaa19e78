"""Faults of the cluster itself, on a real loopback cluster of 2 worker processes: a worker
killed with -9 mid-trial (its trial is re-run elsewhere, or recorded as failed with the reason,
never counted twice; a scoped `icelab clean` removes what it left), and the client killed
mid-run (`--resume` against the same cluster finishes without repeating completed trials)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dask
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from lab import naming
from lab.cluster.engine import ClusterExecutor, local_cluster
from lab.experiment.runner import Run, run_experiment
from lab.experiment.spec import load_experiment
from tests.cluster.conftest import ICELAB, ROOT, icelab, lab_namespaces, needs_lab_tools
from tests.experiment.short_blackhole import short_blackhole

pytestmark = needs_lab_tools


@pytest.fixture
def three_trials(tmp_path: Path) -> Path:
    path = tmp_path / "three.toml"
    path.write_text(short_blackhole("cluster_faults", seed=9, repetitions=3, settle_s=1))
    return path


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[LocalCluster]:
    allowed = getattr(request, "param", 3)
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed}), local_cluster(2) as c:
        yield c


def worker_pids(address: str) -> dict[str, int]:
    """Worker name -> pid of its process."""
    with Client(address, timeout=20) as client:
        pids = client.run(os.getpid)
        names = {addr: str(info["name"]) for addr, info in client.scheduler_info()["workers"].items()}
    return {names[addr]: pid for addr, pid in pids.items()}


def busy_worker(timeout: float = 120) -> str:
    """The name of a worker whose trial's lab namespaces are up (a trial in its set-up or call)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in lab_namespaces():
            for worker in ("0", "1"):
                if name.startswith(naming.netns_prefix(f"{naming.scope()}-k{worker}")):
                    return worker
        time.sleep(0.1)
    raise AssertionError("no trial started on the cluster")


@pytest.mark.parametrize("cluster, outcome", [(3, "re-run"), (0, "failed")], indirect=["cluster"])
def test_worker_killed_mid_trial(cluster: LocalCluster, outcome: str, three_trials: Path, tmp_path: Path) -> None:
    address = cluster.scheduler_address
    pids = worker_pids(address)
    spec = load_experiment(three_trials)
    result: dict[str, Run | BaseException] = {}

    def run() -> None:
        try:
            result["run"] = run_experiment(spec, tmp_path / "run", executor=ClusterExecutor(address, insecure=True))
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            result["run"] = error

    thread = threading.Thread(target=run)
    thread.start()
    victim = busy_worker()
    time.sleep(1.0)  # well inside the trial (its call is up by now or soon)
    os.kill(pids[victim], signal.SIGKILL)
    thread.join(600)
    run_result = result["run"]
    assert isinstance(run_result, Run), run_result

    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert len(trials) == 3 and trials["trial_id"].is_unique  # never counted twice
    if outcome == "re-run":
        assert (trials["status"] == "ok").all() and trials["recovered"].all()
    else:
        lost = trials[trials["status"] == "error"]
        assert len(lost) >= 1 and lost["failure_reason"].str.contains("the worker running it died").all()
        assert not lost["recovered"].any()

    # the killed worker left its trial's namespaces (and agents inside): its scope's clean removes them
    scope = f"{naming.scope()}-k{victim}"
    assert lab_namespaces(scope), "the killed worker left nothing behind (was it killed mid-trial?)"
    cleaned = icelab("clean", env={**os.environ, "ICELAB_SCOPE": scope})
    assert cleaned.returncode == 0, cleaned.stderr
    assert lab_namespaces(scope) == []
    assert not (Path(os.environ.get("ICELAB_STATE_DIR", "/run/icelab")) / scope / "trials").exists()


def test_client_killed_mid_run_resumes_on_the_same_cluster(cluster: LocalCluster, three_trials: Path,
                                                           tmp_path: Path) -> None:
    address = cluster.scheduler_address
    out = tmp_path / "run"
    args = ["run", str(three_trials), "--cluster", address, "--insecure", "--out", str(out)]
    client = subprocess.Popen([*ICELAB, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(out.glob("trials/*/result.json")):
        assert client.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    client.kill()
    client.wait()
    done_before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("trials/*/result.json")}
    assert 1 <= len(done_before) < 3

    resumed = icelab(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{3 - len(done_before)} trials run, {len(done_before)} resumed" in resumed.stdout
    trials = pd.read_parquet(out / "trials.parquet")
    assert len(trials) == 3 and trials["trial_id"].is_unique
    for trial_id, mtime in done_before.items():  # completed trials were not run again
        assert (out / "trials" / trial_id / "result.json").stat().st_mtime_ns == mtime
    # the killed client's trials still in flight finish on the workers (and tear down) unseen
    with Client(address, timeout=20) as watcher:
        deadline = time.monotonic() + 180
        while any(watcher.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert lab_namespaces() == []
