"""The lab's media gap against the same definition applied to the wire, and which path carried
each recovery, for runs made with `icelab run --capture`.

    .venv/bin/python benchmarks/gap_vs_capture.py RUN_DIR [RUN_DIR ...]

The metrics are recomputed from each trial's events with the current definitions (so runs made
before a definition changed are read on today's). Per trial and receiver: the agent's gap
(media_rx events, lab.experiment.metrics) and the gap of
the RTP arrivals tcpdump saw at the receiving host (the same lab.experiment.continuity rule, on the
capture's clock mapped onto the events'); prints the error's median and max (the limit is 0: the
same packets; what remains is the agents' stamping delay and the capture's). Then, per experiment
and policy, the share of recovered trials resumed on a new pair vs the old path. Asserts nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.experiment import continuity  # noqa: E402
from lab.experiment.metrics import metrics_table  # noqa: E402
from lab.experiment.pcap import host_captures, trial_packets, wire_arrivals  # noqa: E402


def current_trials(run: Path) -> pd.DataFrame:
    """The run's trials with the metrics recomputed from its events."""
    info = json.loads((run / "run.json").read_text())
    trials = pd.read_parquet(run / "trials.parquet")
    events = pd.read_parquet(run / "events.parquet")
    fresh = metrics_table(events, info["spec"]["timeouts"]["recover_s"]).set_index("trial_id")
    keep = trials.set_index("trial_id")
    keep = keep[[c for c in keep.columns if c not in fresh.columns]]
    out = keep.join(fresh).reset_index()
    bad = out["status"] != "ok"
    out.loc[bad, "recovered"] = False
    return out


def gap_errors(run: Path) -> list[tuple[str, str, float, float]]:
    info = json.loads((run / "run.json").read_text())
    peers = info["spec"]["peers"]
    trials = current_trials(run)
    events = pd.read_parquet(run / "events.parquet")
    out = []
    for _, trial in trials.iterrows():
        trial_dir = run / "trials" / trial["trial_id"]
        if not host_captures(trial_dir) or not trial["recovered"]:
            continue
        mine = events[events["trial_id"] == trial["trial_id"]]
        t_fault = float(mine.loc[mine["kind"] == "fault", "t_monotonic"].min())
        t_end = float(mine.loc[mine["kind"] == "trial_end", "t_monotonic"].max())
        for receiver in ("offerer", "answerer"):
            host = peers[receiver]
            if host not in host_captures(trial_dir):
                continue
            own = mine[mine["peer"] == receiver]
            rx = own[own["kind"] == "media_rx"]
            table = trial_packets(trial_dir, own)
            wire = wire_arrivals(table, host, set(rx["ssrc"].astype("int64")))
            outages = continuity.outages(wire, t_fault, t_end)
            agent = float(trial.get(f"media_gap_ms_at_{receiver}", np.nan))
            if outages and np.isfinite(agent):
                out.append((trial["trial_id"], receiver, agent, outages[0].duration_ms))
    return out


def main() -> None:
    runs = [Path(p) for p in sys.argv[1:]]
    if not runs:
        sys.exit(__doc__)
    rows = [(run.name, *row) for run in runs for row in gap_errors(run)]
    if rows:
        table = pd.DataFrame(rows, columns=["run", "trial", "receiver", "agent_ms", "wire_ms"])
        table["error_ms"] = (table["agent_ms"] - table["wire_ms"]).abs()
        print(f"gap vs capture: {len(table)} receiver-gaps from {len(table[['run', 'trial']].drop_duplicates())} trials; "
              f"|error| median {table['error_ms'].median():.2f} ms, max {table['error_ms'].max():.2f} ms "
              "(limit 0 ms: the same packets)")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    else:
        print("no trial with captures (run with --capture)")
    for run in runs:
        trials = current_trials(run)
        if "resumed_on" not in trials:
            continue
        print(f"\n{run.name}: which path carried the recovery (recovered trials)")
        for (experiment, policy), group in trials.groupby(["experiment", "policy"], sort=False):
            rec = group[group["recovered"]]
            new, old = int((rec["resumed_on"] == "new-pair").sum()), int((rec["resumed_on"] == "old-path").sum())
            print(f"  {experiment:>18} {policy:>28}: {len(group)} trials, {len(rec)} recovered: "
                  f"{new} new pair, {old} old path")


if __name__ == "__main__":
    main()
