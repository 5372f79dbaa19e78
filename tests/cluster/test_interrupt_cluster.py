"""Ctrl-C on `icelab run --cluster local:2` (real workers, aiortc agents, coturn): the workers
abandon the trials under way and tear them down, the client stops its workers, nothing of the
run's scope (namespaces, workers, agents) is left, the exit code says SIGINT, and `--resume`
completes the run on a new local cluster."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.cli.interrupting import lingering, namespaces, run, saved, start, trial_namespaces
from tests.cluster.conftest import needs_lab_tools
from tests.experiment.short_blackhole import short_blackhole

pytestmark = needs_lab_tools


def test_ctrl_c_stops_a_local_cluster_run_and_its_workers(tmp_path: Path) -> None:
    exp, out = tmp_path / "cluster.toml", tmp_path / "run"
    exp.write_text(short_blackhole("cluster_interrupt", seed=9, repetitions=2, at_s=4, settle_s=1))
    interrupted = start(tmp_path, "csigint", str(exp), "--cluster", "local:2", "--out", str(out))
    interrupted.wait_for("a trial under way", lambda: trial_namespaces(interrupted.scope) != [])

    code = interrupted.signal(signal.SIGINT, group=True)  # a terminal's Ctrl-C reaches the workers too

    assert code == 130, interrupted.log()[-3000:]
    assert namespaces(interrupted.scope) == []
    assert lingering(interrupted.scope) == []
    resumed = run(interrupted.scope, str(exp), "--cluster", "local:2", "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(saved(out)) == 2
    assert namespaces(interrupted.scope) == [] and lingering(interrupted.scope) == []
