"""Running an experiment: every planned trial, in parallel when asked, into one run folder.

A trial that fails or hangs is recorded with its reason and the run goes on. Each trial is
saved the moment it ends; `resume` skips trials that were saved.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from lab.experiment.plan import TrialPlan, plan_trials
from lab.experiment.runfolder import RunFolder
from lab.experiment.spec import ExperimentSpec
from lab.experiment.trial import Trial
from lab.runtime import runtime_class

CONSOLIDATE_EVERY = 10


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


def _run_one(spec: ExperimentSpec, plan: TrialPlan, folder: RunFolder, slot: int, runtime: str) -> dict[str, Any]:
    trial_dir = folder.prepare_trial(plan.trial_id)
    trial = Trial(spec, plan, trial_dir, topology_name(slot), runtime=runtime)
    result = asyncio.run(trial.run())
    folder.save_trial(plan.trial_id, result.row, result.events)
    return result.row


def run_experiment(spec: ExperimentSpec, out: Path | str | None = None, *, runtime: str = "netns", jobs: int = 1,
                   repetitions: int | None = None, resume: bool = False,
                   console: Console | None = None) -> Run:
    """Every planned trial of the experiment into the run folder `out` (default:
    runs/<name>-<time> in the current directory); the trials and events as DataFrames."""
    from lab.experiment.runfolder import default_run_path

    out = Path(out) if out is not None else default_run_path(Path("runs"), spec)
    if jobs < 1:
        raise ConfigError(None, "--jobs", "must be at least 1")
    check_experiment(spec, runtime=runtime)  # before the run folder and any namespace exist
    runtime_class(runtime).preflight()  # e.g. docker: the engine answers, the images are current
    plans = plan_trials(spec, repetitions)
    folder = RunFolder.create_or_resume(out, spec, resume, runtime, jobs, len(plans))
    done = folder.completed()
    todo = [p for p in plans if p.trial_id not in done]
    console = console or Console(stderr=True)
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(jobs):
        slots.put(slot)
    recovered = 0
    lock = threading.Lock()

    def work(plan: TrialPlan) -> dict[str, Any]:
        slot = slots.get()
        try:
            return _run_one(spec, plan, folder, slot, runtime)
        finally:
            slots.put(slot)

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(spec.name, total=len(plans), completed=len(plans) - len(todo),
                                 status=f"{len(done)} resumed" if done else "")
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="trial") as pool:
            futures = {pool.submit(work, plan): plan for plan in todo}
            finished = 0
            try:
                for future in concurrent.futures.as_completed(futures):
                    plan = futures[future]
                    try:
                        row = future.result()
                        ok = bool(row.get("recovered"))
                        note = "recovered" if ok else f"not recovered: {row.get('failure_reason')}"
                    except ConfigError:
                        raise
                    except Exception as error:  # the trial could not even be recorded
                        ok, note = False, f"crashed: {error}"
                    with lock:
                        recovered += ok
                        finished += 1
                    progress.console.print(f"{plan.trial_id}: {note}", highlight=False)
                    progress.update(task, advance=1, status=f"{recovered}/{finished} recovered")
                    if finished % CONSOLIDATE_EVERY == 0:
                        folder.consolidate()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
            finally:
                folder.write_run_json(spec, runtime, jobs, len(plans))
                trials, events = folder.consolidate()
    return Run(path=out, planned=len(plans), skipped=len(plans) - len(todo), ran=len(todo),
               recovered=recovered, trials=trials, events=events)
