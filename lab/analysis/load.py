"""Loading run folders (see lab.experiment.runfolder) into tidy tables.

`load_runs(paths)` reads one or several run folders and returns a `Runs`: the trials (one row
per trial, the metrics of lab.experiment.metrics), the events (one row per event) and the run
metadata (one row per run, plus the raw run.json). Every table carries a `run` column naming
the run folder it came from, so several runs can be analysed together.

A run that is still going (or was cut short) has no consolidated tables yet, or stale ones:
the per-trial result files are the truth, and are read when they hold more trials.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lab.analysis.summary import mark_interrupted
from lab.errors import LabError

RUN_JSON = "run.json"
TRIALS_PARQUET = "trials.parquet"
EVENTS_PARQUET = "events.parquet"

# Columns the analysis needs from the trials table; a run without them cannot be analysed.
REQUIRED_TRIAL_COLUMNS = ("trial_id", "fault", "policy", "rtt_ms", "recovered", "media_gap_ms")


@dataclass
class Runs:
    trials: pd.DataFrame
    events: pd.DataFrame
    meta: pd.DataFrame
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # run name -> run.json

    @property
    def names(self) -> list[str]:
        return list(self.info)

    def trial_events(self, run: str, trial_id: str) -> pd.DataFrame:
        frame = self.events
        return frame[(frame["run"] == run) & (frame["trial_id"] == trial_id)]


def _run_name(path: Path, taken: set[str]) -> str:
    name = path.resolve().name
    if name not in taken:
        return name
    i = 2
    while f"{name}#{i}" in taken:
        i += 1
    return f"{name}#{i}"


def _trials_of(path: Path) -> pd.DataFrame:
    results = sorted(path.glob("trials/*/result.json"))
    consolidated = path / TRIALS_PARQUET
    if consolidated.is_file():
        table = pd.read_parquet(consolidated)
        if len(table) >= len(results):
            return table
    rows = [json.loads(p.read_text()) for p in results]
    table = pd.DataFrame(rows)
    if "index" in table:
        table = table.sort_values("index").reset_index(drop=True)
    return table


def _events_of(path: Path, trials: pd.DataFrame) -> pd.DataFrame:
    consolidated = path / EVENTS_PARQUET
    if consolidated.is_file():
        events = pd.read_parquet(consolidated)
        have = set(events["trial_id"].unique()) if len(events) else set()
        if "trial_id" not in trials or set(trials["trial_id"]) <= have:
            return events
    frames = [pd.read_parquet(p) for p in sorted(path.glob(f"trials/*/{EVENTS_PARQUET}"))]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["trial_id", "peer", "t_monotonic", "kind", "state", "seq", "ssrc", "detail"])
    return pd.concat(frames, ignore_index=True)


def _normalise_trials(trials: pd.DataFrame) -> pd.DataFrame:
    trials = trials.copy()
    if "loss_pct" not in trials:
        trials["loss_pct"] = 0.0
    if "browser_state" not in trials:  # runs made before browser_state existed
        trials["browser_state"] = "n/a"
    trials["recovered"] = trials["recovered"].fillna(False).astype(bool)
    trials = mark_interrupted(trials)  # runs recorded before the column: derived from the row
    for column in trials.columns:
        if column.endswith(("_ms", "_s")) or column.startswith("t_") or column in ("rtt_ms", "loss_pct"):
            trials[column] = pd.to_numeric(trials[column], errors="coerce").astype("float64")
    return trials


def meta_row(run: str, path: Path, info: dict[str, Any], trials: pd.DataFrame) -> dict[str, Any]:
    versions = info.get("versions") or {}
    git = info.get("git") or {}
    return {
        "run": run,
        "path": str(path),
        "experiment": info.get("experiment"),
        "spec_hash": info.get("spec_hash"),
        "seed": info.get("seed"),
        "runtime": info.get("runtime"),
        "delay_backend": info.get("delay_backend"),
        "git_revision": git.get("revision"),
        "git_dirty": git.get("dirty"),
        "kernel": info.get("kernel"),
        "started": info.get("started"),
        "updated": info.get("updated"),
        "trials_planned": info.get("trials_planned"),
        "trials": len(trials),
        "recovered": int(trials["recovered"].sum()) if len(trials) else 0,
        **{f"version_{k}": v for k, v in versions.items()},
    }


def load_run(path: str | Path, name: str | None = None) -> Runs:
    """One run folder."""
    return load_runs([path], names=[name] if name else None)


def load_runs(paths: Sequence[str | Path], names: Sequence[str] | None = None) -> Runs:
    """Several run folders into one set of tables (a `run` column tells them apart)."""
    if not paths:
        raise LabError("no run folder given")
    trial_frames, event_frames, metas = [], [], []
    info: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(paths):
        path = Path(raw)
        run_json = path / RUN_JSON
        if not run_json.is_file():
            raise LabError(f"{path} is not a run folder (no {RUN_JSON}); make one with `icelab run`")
        run = names[i] if names else _run_name(path, set(info))
        info[run] = json.loads(run_json.read_text())
        trials = _trials_of(path)
        if not len(trials):
            raise LabError(f"{path} holds no completed trial yet")
        missing = [c for c in REQUIRED_TRIAL_COLUMNS if c not in trials]
        if missing:
            raise LabError(f"{path}: the trials table lacks {', '.join(missing)}")
        trials = _normalise_trials(trials)
        events = _events_of(path, trials)
        trials.insert(0, "run", run)
        events = events.copy()
        events.insert(0, "run", run)
        trial_frames.append(trials)
        event_frames.append(events)
        metas.append(meta_row(run, path, info[run], trials))
    trials = pd.concat(trial_frames, ignore_index=True)
    events = pd.concat(event_frames, ignore_index=True)
    meta = pd.DataFrame(metas)
    _tell_specs_apart(trials, meta)
    return Runs(trials=trials, events=events, meta=meta, info=info)


def _tell_specs_apart(trials: pd.DataFrame, meta: pd.DataFrame) -> None:
    """Runs of one experiment name are pooled only when they ran the same spec: when the spec
    changed between them, each spec's trials get 'name (spec hash)' as their experiment."""
    if "experiment" not in trials:
        return
    for name, runs in meta.groupby("experiment", dropna=False):
        if runs["spec_hash"].nunique(dropna=False) <= 1:
            continue
        for _, run in runs.iterrows():
            label = f"{name} ({str(run['spec_hash'])[:8]})"
            trials.loc[trials["run"] == run["run"], "experiment"] = label
            meta.loc[meta["run"] == run["run"], "experiment"] = label


def newest_run(base: str | Path = "runs") -> Path | None:
    """The run folder under `base` whose run.json changed last."""
    base = Path(base)
    if not base.is_dir():
        return None
    candidates = [p.parent for p in base.glob(f"*/{RUN_JSON}")]
    return max(candidates, key=lambda p: (p / RUN_JSON).stat().st_mtime, default=None)
