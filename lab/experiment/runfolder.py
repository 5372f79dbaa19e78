"""The run folder: everything one run produced, written so that a crash loses at most the trial
in flight.

    <run>/run.json                 versions, git revision, spec hash, seed, kernel, delay backend
    <run>/experiment.toml          the experiment file as run
    <run>/trials/<trial_id>/       per-trial logs (agents, relays, signaling), events.parquet,
                                   result.json (written last, atomically: the trial is complete)
    <run>/trials.parquet, trials.csv, events.parquet   all completed trials (rebuilt from the
                                   per-trial files after each batch and at the end)
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from lab.errors import ConfigError, LabError
from lab.experiment.events import COLUMNS, events_frame
from lab.experiment.spec import ExperimentSpec

RESULT_FILE = "result.json"
EVENTS_FILE = "events.parquet"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _git_revision() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip() != ""
        return {"revision": rev or None, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("icelab", "aiortc", "aioice", "pyroute2", "pandas", "pyarrow"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    try:
        out["coturn"] = subprocess.run(["turnserver", "--version"], capture_output=True, text=True,
                                       timeout=5).stdout.strip().splitlines()[-1]
    except (OSError, subprocess.SubprocessError, IndexError):
        out["coturn"] = None
    return out


@functools.cache
def _delay_backend() -> str | None:
    try:
        from lab.net.shaping import delay_backend

        return str(delay_backend())
    except Exception:
        return None


def host_facts() -> dict[str, Any]:
    """Which machine ran a trial, as columns of its row (a cluster's hosts may differ)."""
    return {"host": socket.gethostname(), "kernel": platform.release(), "delay_backend": _delay_backend()}


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.trials_dir = path / "trials"

    @classmethod
    def create_or_resume(cls, path: Path, spec: ExperimentSpec, resume: bool, runtime: str,
                         jobs: int, planned: int, engine: str = "local") -> RunFolder:
        folder = cls(path)
        run_json = path / "run.json"
        if run_json.exists():
            if not resume:
                raise LabError(f"{path} holds a run already: pass --resume to continue it, "
                               "or choose another --out")
            info = json.loads(run_json.read_text())
            if info.get("spec_hash") != spec.spec_hash():
                raise ConfigError(spec.source, None, f"the experiment changed since the run in {path} "
                                  f"started (spec hash {info.get('spec_hash')} -> {spec.spec_hash()}); "
                                  "start a new run")
        elif path.exists() and any(path.iterdir()) and not resume:
            raise LabError(f"{path} exists and is not empty (and is not a run folder)")
        folder.trials_dir.mkdir(parents=True, exist_ok=True)
        folder.write_run_json(spec, runtime, jobs, planned, started=True, engine=engine)
        if spec.source and Path(spec.source).is_file():
            shutil.copyfile(spec.source, path / "experiment.toml")
        return folder

    def write_run_json(self, spec: ExperimentSpec, runtime: str, jobs: int, planned: int,
                       started: bool = False, engine: str = "local") -> None:
        run_json = self.path / "run.json"
        previous = json.loads(run_json.read_text()) if run_json.exists() else {}
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        info = {
            "experiment": spec.name,
            "experiment_file": spec.source,
            "topology_file": spec.topology_path,
            "spec_hash": spec.spec_hash(),
            "seed": spec.seed,
            "runtime": runtime,
            "jobs": jobs,
            "engine": engine,  # "local" (this machine) or the Dask cluster's address (lab.cluster)
            "trials_planned": planned,
            "trials_completed": len(self.completed()),
            "repetitions_planned": planned // max(1, len(spec.policies) * len(spec.matrix.rtt_ms)
                                                  * len(spec.matrix.loss_pct)),
            "repetitions_run": self.repetitions_run(),
            "git": _git_revision(),
            "versions": _versions(),
            "kernel": platform.release(),
            "machine": {"hostname": socket.gethostname(), "cpus": os.cpu_count(), "arch": platform.machine()},
            "delay_backend": _delay_backend(),
            "clock": "CLOCK_MONOTONIC (time.monotonic), shared by every process of the machine",
            "command": sys.argv,
            "started": previous.get("started", now),
            "resumed": previous.get("resumed", []) + ([now] if started and previous else []),
            "updated": now,
            "spec": spec.model_dump(mode="json"),
        }
        if spec._topology is not None:  # made in Python: the run keeps it as data
            info["topology"] = spec.topology_data()
        atomic_write(run_json, json.dumps(info, indent=1, default=str).encode())

    def repetitions_run(self) -> dict[str, int]:
        """Completed repetitions per cell (policy x RTT x loss): the fewest and the most."""
        cells: dict[tuple[Any, ...], int] = {}
        for trial_id in self.completed():
            try:
                row = json.loads((self.trial_dir(trial_id) / RESULT_FILE).read_text())
            except (OSError, ValueError):
                continue
            key = (row.get("policy"), row.get("rtt_ms"), row.get("loss_pct"))
            cells[key] = cells.get(key, 0) + 1
        if not cells:
            return {"min": 0, "max": 0}
        return {"min": min(cells.values()), "max": max(cells.values())}

    def trial_dir(self, trial_id: str) -> Path:
        return self.trials_dir / trial_id

    def completed(self) -> set[str]:
        if not self.trials_dir.is_dir():
            return set()
        return {p.parent.name for p in self.trials_dir.glob(f"*/{RESULT_FILE}")}

    def prepare_trial(self, trial_id: str) -> Path:
        """A clean folder for a trial about to run (leftovers of a crashed attempt go)."""
        path = self.trial_dir(trial_id)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def save_trial(self, trial_id: str, row: dict[str, Any], events: list[dict[str, Any]]) -> None:
        path = self.trial_dir(trial_id)
        buffer = path / EVENTS_FILE
        events_frame(events).to_parquet(buffer.with_suffix(".tmp"), index=False)
        os.replace(buffer.with_suffix(".tmp"), buffer)
        row = {k: _json_safe(v) for k, v in row.items()}
        atomic_write(path / RESULT_FILE, json.dumps(row, indent=1, default=str).encode())

    def save_trial_files(self, trial_id: str, row: dict[str, Any], files: dict[str, bytes]) -> None:
        """A trial that ran elsewhere (a cluster worker): its folder's files, then its row last."""
        path = self.trial_dir(trial_id)
        for name, data in files.items():
            target = (path / name).resolve()
            if name == RESULT_FILE or not target.is_relative_to(path.resolve()):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, data)
        row = {k: _json_safe(v) for k, v in row.items()}
        atomic_write(path / RESULT_FILE, json.dumps(row, indent=1, default=str).encode())

    def consolidate(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Rebuild trials.parquet/.csv and events.parquet from every completed trial."""
        rows, frames = [], []
        for trial_id in sorted(self.completed()):
            path = self.trial_dir(trial_id)
            rows.append(json.loads((path / RESULT_FILE).read_text()))
            if (path / EVENTS_FILE).exists():
                frames.append(pd.read_parquet(path / EVENTS_FILE))
        trials = pd.DataFrame(rows)
        if len(trials):
            trials = trials.sort_values("index").reset_index(drop=True)
        events = pd.concat(frames, ignore_index=True) if frames else events_frame([])
        events = events[COLUMNS]
        for name, writer in (("trials.parquet", lambda p: trials.to_parquet(p, index=False)),
                             ("trials.csv", lambda p: trials.to_csv(p, index=False)),
                             ("events.parquet", lambda p: events.to_parquet(p, index=False))):
            tmp = self.path / f".{name}.tmp"
            writer(tmp)
            os.replace(tmp, self.path / name)
        return trials, events


def default_run_path(base: Path, spec: ExperimentSpec) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return base / f"{spec.name}-{stamp}"
