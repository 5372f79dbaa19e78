"""Trial overhead on the netns runtime, and trials per hour of the shipped handover experiment.

    .venv/bin/python benchmarks/trial_overhead.py [--trials 20] [--handover-reps 1] [--jobs 1]

Overhead = set-up (topology, relay, signaling server) + connect (agents start -> media both
ways) + tear-down, i.e. a trial minus the scenario's own waiting (fault time, observation).
Measured on real trials of a minimal experiment (two_peers, a NAT binding flush at once).
Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ICELAB_SCOPE", f"bench{os.getpid()}")

from rich.console import Console  # noqa: E402

from lab.experiment.runner import run_experiment  # noqa: E402
from lab.experiment.spec import load_experiment, parse_experiment  # noqa: E402

MINIMAL = {
    "name": "overhead",
    "topology": str(ROOT / "topologies" / "two_peers.toml"),
    "peers": {"offerer": "alice", "answerer": "bob"},
    "fault": {"type": "binding_expiry", "router": "nat_a", "at_s": 0},
    "policies": ["none"],
    "timeouts": {"observe_s": 0, "settle_s": 0.2, "recover_s": 5},
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def overhead(trials: int, console: Console) -> None:
    spec = parse_experiment({**MINIMAL, "repetitions": trials}, ROOT / "benchmarks" / "overhead.toml")
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_experiment(spec, Path(tmp) / "run", jobs=1, console=console)
    t = summary.trials
    ok = t[t["status"] == "ok"]
    total = (ok["setup_ms"] + ok["connect_ms"] + ok["teardown_ms"]).tolist()
    print(f"\ntrial overhead, netns runtime, {len(ok)}/{len(t)} trials ok")
    for name, values in (("set-up", ok["setup_ms"].tolist()), ("connect", ok["connect_ms"].tolist()),
                         ("tear-down", ok["teardown_ms"].tolist()), ("total", total)):
        print(f"  {name:10s} median {statistics.median(values):7.0f} ms   p90 {percentile(values, 0.9):7.0f} ms"
              f"   min {min(values):6.0f} ms")
    print(f"  goal: total median <= 2000 ms -> {'met' if statistics.median(total) <= 2000 else 'NOT met'}")


def handover_rate(reps: int, jobs: int, console: Console) -> None:
    spec = load_experiment(ROOT / "experiments" / "handover.toml")
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_experiment(spec, Path(tmp) / "run", jobs=jobs, repetitions=reps, console=console)
    wall = time.monotonic() - began
    t = summary.trials
    print(f"\nhandover experiment: {len(t)} trials ({reps} repetition(s) of {len(t) // max(reps, 1)}),"
          f" jobs={jobs}, wall {wall:.0f} s, {int(t['recovered'].sum())} recovered")
    print(f"  trial duration median {t['duration_s'].median():.1f} s, mean {t['duration_s'].mean():.1f} s")
    print(f"  trials per hour: {3600 * len(t) / wall:.0f}"
          f" (full experiment of {spec.repetitions} repetitions: {len(t) // max(reps, 1) * spec.repetitions} trials,"
          f" ~{len(t) // max(reps, 1) * spec.repetitions * wall / len(t) / 60:.0f} min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20, help="0 skips the overhead figure")
    parser.add_argument("--handover-reps", type=int, default=1, help="0 skips the handover figure")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    console = Console(stderr=True)
    if args.trials > 0:
        overhead(args.trials, console)
    if args.handover_reps > 0:
        handover_rate(args.handover_reps, args.jobs, console)


if __name__ == "__main__":
    main()
