"""Running an experiment: every planned trial, in parallel when asked, into one run folder.

A trial that fails or hangs is recorded with its reason and the run goes on. Each trial is
saved the moment it ends; `resume` skips trials that were saved.

Where the trials run is an executor (TrialExecutor): threads of this process (LocalExecutor,
`--jobs N`) or a Dask cluster (lab.cluster.engine, `--cluster`); both hand back each finished
trial's row once it is saved in the run folder.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import queue
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from lab.errors import ConfigError
from lab.experiment.check import check_experiment
from lab.experiment.interrupt import (
    RunInterrupted,
    RunMark,
    StopOnSignals,
    own_mark,
    remove_leftovers,
    stop_trials,
    stoppable,
)
from lab.experiment.plan import TrialPlan, plan_trials
from lab.experiment.runfolder import RunFolder, host_facts
from lab.experiment.spec import ExperimentSpec
from lab.experiment.trial import Trial
from lab.runtime import runtime_class

CONSOLIDATE_EVERY = 10
# A mid-run rebuild of the run's tables reads every saved trial (~6 ms each here): every 10 trials
# that is quadratic, days of a 30 000-trial run. Rebuilds are paced to at most this share of the
# run's time; the per-trial files are the record (lab.analysis reads them when the tables lag).
CONSOLIDATE_SHARE = 0.1


class ConsolidationPacer:
    """When the run's tables are rebuilt mid-run: every CONSOLIDATE_EVERY trials, unless the last
    rebuild took more than CONSOLIDATE_SHARE of the time since it ended."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.not_before = -math.inf

    def due(self, finished: int) -> bool:
        return finished % CONSOLIDATE_EVERY == 0 and self.clock() >= self.not_before

    def ran(self, seconds: float) -> None:
        self.not_before = self.clock() + seconds / CONSOLIDATE_SHARE


@dataclass
class Run:
    """A run's outcome: its folder, counts, and every completed trial (one row each) and event."""

    path: Path
    planned: int
    skipped: int
    ran: int
    recovered: int
    trials: pd.DataFrame
    events: pd.DataFrame


RunSummary = Run  # its former name


def topology_name(slot: int) -> str:
    """Unique among concurrent runs on the machine: the orchestrator's pid and the job slot."""
    return f"x{os.getpid()}_{slot}"


def run_one(spec: ExperimentSpec, plan: TrialPlan, folder: RunFolder, slot: int, runtime: str,
            stop_key: str | None = None) -> dict[str, Any]:
    """One trial into `folder`, on this machine (a local job slot or a cluster worker);
    `stop_trials([stop_key])` (default: its trial id) abandons it."""
    trial_dir = folder.prepare_trial(plan.trial_id)
    trial = Trial(spec, plan, trial_dir, topology_name(slot), runtime=runtime)
    result = asyncio.run(stoppable(stop_key or plan.trial_id, trial.run()))  # lab.experiment.interrupt
    result.row.update(host_facts(), worker="local")  # a cluster's task names its worker instead
    folder.save_trial(plan.trial_id, result.row, result.events)
    return result.row


class TrialExecutor(Protocol):
    """Runs trials and saves each in the run folder; yields (plan, row) as each ends, or
    (plan, error) for a trial that could not even be recorded."""

    slots: int
    engine: str  # recorded in run.json: "local" or the cluster's address

    def marks(self) -> list[RunMark]:
        """What the trials it ran on this machine are named by (the backstop of an interrupted run)."""
        ...

    def run(self, spec: ExperimentSpec, runtime: str, folder: RunFolder,
            plans: list[TrialPlan]) -> Generator[tuple[TrialPlan, dict[str, Any] | Exception], None, None]: ...


class LocalExecutor:
    """`--jobs N`: N trials at once in threads of this process, each in its own topology."""

    engine = "local"

    def __init__(self, jobs: int = 1) -> None:
        if jobs < 1:
            raise ConfigError(None, "--jobs", "must be at least 1")
        self.slots = jobs

    def marks(self) -> list[RunMark]:
        return [own_mark()]

    def run(self, spec: ExperimentSpec, runtime: str, folder: RunFolder,
            plans: list[TrialPlan]) -> Generator[tuple[TrialPlan, dict[str, Any] | Exception], None, None]:
        slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.slots):
            slots.put(slot)

        def work(plan: TrialPlan) -> dict[str, Any]:
            slot = slots.get()
            try:
                return run_one(spec, plan, folder, slot, runtime)
            finally:
                slots.put(slot)

        with concurrent.futures.ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="trial") as pool:
            futures = {pool.submit(work, plan): plan for plan in plans}
            try:
                for future in concurrent.futures.as_completed(futures):
                    try:
                        yield futures[future], future.result()
                    except ConfigError:
                        raise
                    except Exception as error:
                        yield futures[future], error
            finally:
                for f in futures:
                    f.cancel()
                if not all(f.done() for f in futures):  # interrupted: the trials under way end now
                    stop_trials(futures[f].trial_id for f in futures if not f.done())


def run_experiment(spec: ExperimentSpec, out: Path | str | None = None, *, runtime: str = "netns", jobs: int = 1,
                   repetitions: int | None = None, resume: bool = False,
                   console: Console | None = None, executor: TrialExecutor | None = None) -> Run:
    """Every planned trial of the experiment into the run folder `out` (default:
    runs/<name>-<time> in the current directory); the trials and events as DataFrames.
    `executor` (default: LocalExecutor(jobs)) decides where the trials run."""
    from lab.experiment.runfolder import default_run_path

    out = Path(out) if out is not None else default_run_path(Path("runs"), spec)
    executor = executor or LocalExecutor(jobs)
    jobs = executor.slots
    check_experiment(spec, runtime=runtime)  # before the run folder and any namespace exist
    runtime_class(runtime).preflight()  # e.g. docker: the engine answers, the images are current
    plans = plan_trials(spec, repetitions)
    folder = RunFolder.create_or_resume(out, spec, resume, runtime, jobs, len(plans), engine=executor.engine)
    done = folder.completed()
    todo = [p for p in plans if p.trial_id not in done]
    console = console or Console(stderr=True)
    recovered = 0

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    unfinished = {p.trial_id for p in todo}
    # Ctrl-C / SIGTERM: KeyboardInterrupt here, the trials under way abandoned; twice: hard stop
    stop = StopOnSignals(hard_stop=lambda: remove_leftovers(executor.marks(), runtime, unfinished, kill_runners=True))
    with stop, Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(spec.name, total=len(plans), completed=len(plans) - len(todo),
                                 status=f"{len(done)} resumed" if done else "")
        finished = 0
        pacer = ConsolidationPacer()
        results = executor.run(spec, runtime, folder, todo)
        try:
            for plan, outcome in results:
                unfinished.discard(plan.trial_id)
                if isinstance(outcome, ConfigError):
                    raise outcome
                if isinstance(outcome, Exception):  # the trial could not even be recorded
                    ok, note = False, f"crashed: {outcome}"
                else:
                    ok = bool(outcome.get("recovered"))
                    note = "recovered" if ok else f"not recovered: {outcome.get('failure_reason')}"
                recovered += ok
                finished += 1
                progress.console.print(f"{plan.trial_id}: {note}", highlight=False)
                progress.update(task, advance=1, status=f"{recovered}/{finished} recovered")
                if pacer.due(finished):
                    started = time.monotonic()
                    folder.consolidate()
                    pacer.ran(time.monotonic() - started)
        except BaseException as error:
            results.close()  # the trials under way end (abandoned) and tear down
            # the backstop: whatever the run's trials started and did not remove
            left = remove_leftovers(executor.marks(), runtime, unfinished)
            if left:
                progress.console.print(f"removed {len(left)} namespaces the trials left", highlight=False)
            folder.write_run_json(spec, runtime, executor.slots, len(plans), engine=executor.engine)
            folder.consolidate()
            if isinstance(error, KeyboardInterrupt):
                saved = len(folder.completed())
                raise RunInterrupted(out, stop.exit_code, saved, len(plans)) from None
            raise
        results.close()
        folder.write_run_json(spec, runtime, executor.slots, len(plans), engine=executor.engine)
        trials, events = folder.consolidate()
    return Run(path=out, planned=len(plans), skipped=len(plans) - len(todo), ran=len(todo),
               recovered=recovered, trials=trials, events=events)
