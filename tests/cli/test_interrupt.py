"""Interrupting `icelab run` (real runs: aiortc agents, coturn, kernel NAT, a 2 s blackhole).

Ctrl-C (SIGINT) or SIGTERM once: the run ends within a generous bound with 130 / 143, the trial
under way is abandoned (not recorded), the finished ones are kept, nothing of the run's scope is
left (namespaces, processes), and `--resume` completes the run without repeating a saved trial.
A second signal stops harder, still leaving nothing behind.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from tests.cli.interrupting import lingering, namespaces, processes, run, saved, start, trial_namespaces
from tests.experiment.short_blackhole import short_blackhole

pytestmark = pytest.mark.skipif(shutil.which("turnserver") is None, reason="needs coturn (scripts/setup-debian.sh)")


def experiment(tmp_path: Path, repetitions: int) -> Path:
    path = tmp_path / "interrupt.toml"
    # at_s = 4: a trial stays under way long enough to be interrupted in its middle
    path.write_text(short_blackhole("interrupt_blackhole", seed=7, repetitions=repetitions, at_s=4, settle_s=1))
    return path


def assert_nothing_left(scope: str) -> None:
    assert namespaces(scope) == []
    assert lingering(scope) == []


def test_sigint_after_a_trial_keeps_it_and_resume_completes_the_run(tmp_path: Path) -> None:
    exp, out = experiment(tmp_path, repetitions=2), tmp_path / "run"
    interrupted = start(tmp_path, "sigint", str(exp), "--out", str(out))
    interrupted.wait_for("first saved trial", lambda: len(saved(out)) == 1)
    interrupted.wait_for("second trial under way", lambda: trial_namespaces(interrupted.scope) != [])
    first = saved(out)

    code = interrupted.signal(signal.SIGINT, group=True)  # a terminal's Ctrl-C: the agents get it too

    assert code == 130, interrupted.log()[-3000:]
    assert "--resume" in interrupted.log()  # how to go on
    assert_nothing_left(interrupted.scope)
    assert saved(out) == first  # the finished trial kept, the abandoned one not recorded
    resumed = run(interrupted.scope, str(exp), "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 trials run, 1 resumed" in resumed.stdout
    after = saved(out)
    assert len(after) == 2 and all(after[t] == first[t] for t in first)  # not run again
    assert_nothing_left(interrupted.scope)


def test_sigterm_stops_parallel_trials_like_ctrl_c(tmp_path: Path) -> None:
    exp, out = experiment(tmp_path, repetitions=2), tmp_path / "run"
    interrupted = start(tmp_path, "sigterm", str(exp), "--jobs", "2", "--out", str(out))
    interrupted.wait_for("a trial under way", lambda: trial_namespaces(interrupted.scope) != [])

    code = interrupted.signal(signal.SIGTERM)

    assert code == 143, interrupted.log()[-3000:]
    assert_nothing_left(interrupted.scope)
    assert (out / "run.json").is_file()
    resumed = run(interrupted.scope, str(exp), "--out", str(out), "--resume", "--jobs", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(saved(out)) == 2
    assert_nothing_left(interrupted.scope)


def test_a_second_ctrl_c_stops_harder_and_leaves_nothing(tmp_path: Path) -> None:
    exp, out = experiment(tmp_path, repetitions=1), tmp_path / "run"
    interrupted = start(tmp_path, "twice", str(exp), "--out", str(out))
    interrupted.wait_for("the agents started", lambda: len(processes(interrupted.scope)) > 3)

    interrupted.process.send_signal(signal.SIGINT)
    interrupted.wait_for("the first signal taken", lambda: "stopping the run" in interrupted.log(), bound=60)
    code = interrupted.signal(signal.SIGINT)  # while the abandoned trial tears down

    assert code == 130, interrupted.log()[-3000:]
    assert "again" in interrupted.log()
    assert_nothing_left(interrupted.scope)
    assert saved(out) == {}
