"""Trials per hour at 1, 2 and 4 concurrent trials (--jobs) and on a local Dask cluster of 2
workers (lab.cluster), the media gap under each, and where a trial's time goes.

    ICELAB_SCOPE=w18 .venv/bin/python benchmarks/throughput.py [--trials 4] [--cells 1,2,4,local:2]
        [--out runs/throughput]

The experiment is the short blackhole the end-to-end tests share (tests/experiment/short_blackhole:
two aiortc peers behind NATs, a 2 s blackhole of alice's uplink 1.5 s into the call, restart on
'disconnected'). Per cell it prints:
- trials per hour (completed trials / wall time of the run, the cluster's start included) next
  to the physical limit: each slot busy only with the scenario's own waiting (fault at_s +
  blackhole + the 1 s of steady media that ends the observation), and their ratio;
- the scaling efficiency against 1 job: (trials/hour / trials/hour at 1 job) / slots;
- the media gap (median, p10, p90) and its median shift against 1 job, with a two-sided
  Mann-Whitney U test (scipy.stats): a small p says concurrency changed what is measured;
- where a trial's time goes, mean over its trials: set-up (topology, relays, signaling, agents
  launched), connect (start -> media both ways), fault wait (media flowing -> fault), observation
  (fault -> observation end), teardown, other (metrics, saving; from the row's timings and the
  orchestrator's events).
The machine this runs on may be shared (CI, other engineers): read the figures with its load
(printed). Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ICELAB_SCOPE", f"bench{os.getpid()}")

from rich.console import Console  # noqa: E402
from scipy import stats  # noqa: E402

from lab.experiment.continuity import STEADY_S  # noqa: E402
from lab.experiment.runner import LocalExecutor, TrialExecutor, run_experiment  # noqa: E402
from lab.experiment.spec import load_experiment  # noqa: E402
from tests.experiment.short_blackhole import short_blackhole  # noqa: E402

AT_S, BLACKHOLE_S = 1.5, 2.0
PHASES = ("setup", "connect", "fault wait", "observation", "teardown", "other")


@dataclass
class Cell:
    name: str
    slots: int
    trials: pd.DataFrame
    events: pd.DataFrame
    wall_s: float
    load: tuple[float, float]
    first_start_s: float  # run start -> first trial_start (a cluster's workers starting, imports)

    @property
    def per_hour(self) -> float:
        return 3600.0 * len(self.trials) / self.wall_s

    @property
    def limit_per_hour(self) -> float:
        return self.slots * 3600.0 / (AT_S + BLACKHOLE_S + STEADY_S)

    def gaps(self) -> np.ndarray:
        ok = self.trials[self.trials["recovered"].astype(bool)]
        return ok["media_gap_ms"].dropna().to_numpy(dtype=float)

    def phases(self) -> dict[str, float]:
        """Mean seconds per phase over the cell's trials."""
        rows = []
        for _, trial in self.trials.iterrows():
            mine = self.events[(self.events["trial_id"] == trial["trial_id"]) & (self.events["peer"] == "orchestrator")]
            at = {kind: float(t) for kind, t in zip(mine["kind"], mine["t_monotonic"], strict=True)}
            if not {"media_flowing", "fault", "observation_end"} <= set(at):
                continue
            part = {"setup": trial["setup_ms"] / 1000, "connect": trial["connect_ms"] / 1000,
                    "fault wait": at["fault"] - at["media_flowing"],
                    "observation": at["observation_end"] - at["fault"], "teardown": trial["teardown_ms"] / 1000}
            part["other"] = float(trial["duration_s"]) - sum(part.values())
            rows.append(part)
        return {p: statistics.fmean(r[p] for r in rows) if rows else float("nan") for p in PHASES}


def executor_for(cell: str) -> TrialExecutor:
    if cell.startswith("local:"):
        from lab.cluster.engine import ClusterExecutor

        return ClusterExecutor(cell)
    return LocalExecutor(int(cell))


def run_cell(cell: str, trials: int, base: Path, console: Console) -> Cell:
    experiment = base / f"throughput-{cell.replace(':', '')}.toml"
    experiment.write_text(short_blackhole("throughput", seed=11, repetitions=trials, at_s=AT_S, settle_s=1))
    spec = load_experiment(experiment)
    executor = executor_for(cell)
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    run = run_experiment(spec, base / f"run-{cell.replace(':', '')}", executor=executor, console=console)
    wall = time.monotonic() - started
    starts = run.events.loc[run.events["kind"] == "trial_start", "t_monotonic"]  # one clock per machine
    return Cell(cell if ":" in cell else f"{cell} job(s)", executor.slots, run.trials, run.events, wall,
                (load_before, os.getloadavg()[0]), float(starts.min()) - started if len(starts) else float("nan"))


def report(cells: list[Cell]) -> None:
    base = cells[0]
    print(f"\nthroughput on {os.cpu_count()} cores (1-min load before/after each cell shown)")
    print(f"{'cell':>12} {'n':>3} {'ok':>3} {'trials/h':>9} {'limit/h':>8} {'ratio':>6} {'eff. vs 1':>9} "
          f"{'gap p50':>8} {'p10':>7} {'p90':>7} {'shift':>7} {'MWU p':>7} {'1st start':>9}  load")
    for cell in cells:
        gaps = cell.gaps()
        p10, p50, p90 = (np.percentile(gaps, q) if len(gaps) else float("nan") for q in (10, 50, 90))
        shift, p = float("nan"), float("nan")
        if cell is not base and len(gaps) and len(base.gaps()):
            shift = p50 - float(np.median(base.gaps()))
            p = float(stats.mannwhitneyu(gaps, base.gaps(), alternative="two-sided").pvalue)
        efficiency = cell.per_hour / base.per_hour / (cell.slots / base.slots)
        ok = int(cell.trials["recovered"].astype(bool).sum())
        print(f"{cell.name:>12} {len(cell.trials):>3} {ok:>3} {cell.per_hour:>9.0f} {cell.limit_per_hour:>8.0f} "
              f"{cell.per_hour / cell.limit_per_hour:>6.2f} {efficiency:>9.2f} {p50:>8.0f} {p10:>7.0f} {p90:>7.0f} "
              f"{shift:>+7.0f} {p:>7.3f} {cell.first_start_s:>8.1f}s  {cell.load[0]:.1f}/{cell.load[1]:.1f}")
    print("\nwhere a trial's time goes (mean s per trial)")
    print(f"{'cell':>12} " + " ".join(f"{p:>11}" for p in PHASES) + f" {'total':>7}")
    for cell in cells:
        phases = cell.phases()
        print(f"{cell.name:>12} " + " ".join(f"{phases[p]:>11.2f}" for p in PHASES)
              + f" {sum(phases.values()):>7.2f}")
    print(f"\nlimit = slots x 3600 / (fault at {AT_S:g} s + blackhole {BLACKHOLE_S:g} s + {STEADY_S:g} s steady "
          "media); shift = gap median minus the 1-job median (ms); MWU p: two-sided Mann-Whitney U against "
          "1 job (few trials per cell: only a large shift can show); 1st start = run start -> first trial "
          "began (a cluster's worker processes starting), counted in trials/h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=4, help="trials per cell (default 4)")
    parser.add_argument("--cells", default="1,2,4,local:2", help="jobs counts and local:N clusters, 1 first")
    parser.add_argument("--out", type=Path, default=None, help="keep the run folders here")
    args = parser.parse_args()
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.out or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        cells = [run_cell(cell, args.trials, base, console) for cell in args.cells.split(",")]
    report(cells)


if __name__ == "__main__":
    main()
