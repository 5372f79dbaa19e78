"""The task a Dask worker runs: one trial, in this worker's own lab scope, in a scratch folder;
its result and files go back to the client. Plain data in and out (lab.cluster.ship)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from lab import naming
from lab.cluster.ship import TrialOutcome, TrialTask, WorkerMismatch, unpack
from lab.errors import LabError
from lab.experiment.check import check_experiment
from lab.experiment.interrupt import RunMark, TrialAbandoned
from lab.experiment.plan import plan_trials
from lab.experiment.runfolder import RunFolder
from lab.experiment.runner import run_one

SCOPE_ENV = "ICELAB_SCOPE"
_lock = threading.Lock()
_base_scope: str | None = None
_busy: set[int] = set()
_checked: set[tuple[str, str]] = set()


def worker_scope(base: str, worker_name: str) -> str:
    """A worker's own scope, nested in the scope it started with: "<base>-k<name>" (so that a
    scoped `icelab clean` of the base also finds its namespaces)."""
    return naming.nested_scope(base, re.sub(r"[^A-Za-z0-9]", "", worker_name)[:24])


def _enter_scope(worker_name: str) -> str:
    global _base_scope
    with _lock:
        if _base_scope is None:
            _base_scope = os.environ.get(SCOPE_ENV, "")
            os.environ[SCOPE_ENV] = worker_scope(_base_scope, worker_name)
        return naming.scope()


def worker_mark(dask_worker: Any) -> RunMark:
    """The names this worker's trials carry (by Client.run on the worker: the client's backstop
    after an interrupted run on a local cluster, lab.experiment.interrupt)."""
    with _lock:
        base = _base_scope if _base_scope is not None else os.environ.get(SCOPE_ENV, "")
    return RunMark(worker_scope(base, str(dask_worker.name)), f"x{os.getpid()}_", os.getpid())


def leave_interrupts_to_the_client() -> None:
    """A local cluster's worker (by Client.run, in its main thread): a terminal's Ctrl-C reaches
    the whole process group, but the client decides (it stops the trials here, then the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _task_key() -> str | None:
    from distributed import get_worker

    try:
        return str(get_worker().get_current_task())
    except ValueError:  # called outside a worker (tests of this function)
        return None


def _take_slot() -> int:
    with _lock:
        slot = next(i for i in range(len(_busy) + 1) if i not in _busy)
        _busy.add(slot)
        return slot


def _files(trial_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(trial_dir)): p.read_bytes() for p in sorted(trial_dir.rglob("*")) if p.is_file()}


def run_trial_task(task: TrialTask) -> TrialOutcome:
    """Runs on a worker (resources={"icelab": 1})."""
    from distributed import get_worker

    try:
        name = str(get_worker().name)
    except ValueError:  # called outside a worker (tests of this function)
        name = "local"
    spec = unpack(task)
    if (task["spec_hash"], task["runtime"]) not in _checked:  # this host can run it (peer kinds installed, ...)
        try:
            check_experiment(spec, runtime=task["runtime"])
        except LabError as error:
            raise WorkerMismatch(f"worker {name} cannot run this experiment: {error}") from None
        _checked.add((task["spec_hash"], task["runtime"]))
    plan = next((p for p in plan_trials(spec, task["repetitions"]) if p.trial_id == task["trial_id"]), None)
    if plan is None:
        raise ValueError(f"trial {task['trial_id']!r} is not in the experiment's plan")
    _enter_scope(name)
    slot = _take_slot()
    # in the scope's state folder: if this worker is killed, `icelab clean` removes it too
    (naming.state_dir() / "trials").mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{plan.trial_id}-", dir=naming.state_dir() / "trials"))
    try:
        try:
            # stopped by its task key, unique to the client's run (lab.cluster.engine)
            row = run_one(spec, plan, RunFolder(scratch), slot, task["runtime"], stop_key=_task_key())
        except TrialAbandoned:  # the client was interrupted and stopped it: no row (quietly)
            return TrialOutcome(row={}, files={}, worker=name)
        row["worker"] = name  # the folder's result.json is not sent: the client writes this row
        return TrialOutcome(row=row, files=_files(scratch / "trials" / plan.trial_id), worker=name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with _lock:
            _busy.discard(slot)
