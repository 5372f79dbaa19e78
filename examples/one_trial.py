"""One trial of a 2 s blackhole of alice's NAT uplink, into a DataFrame.

    sudo .venv/bin/python examples/one_trial.py [RUN_FOLDER]
"""

from __future__ import annotations

import sys

from lab import Experiment, load_topology, run_experiment


def main(out: str | None = None) -> int:
    experiment = Experiment(
        name="example_blackhole",
        topology=load_topology("topologies/two_peers.toml"),  # or the path itself
        peers={"offerer": "alice", "answerer": "bob"},
        ice={"consent_interval_s": 0.5, "disconnected_after_s": 1.0, "failed_after_s": 4.0},
        fault={"type": "blackhole", "node": "nat_a", "iface": "wan", "duration_s": 2, "at_s": 1.5},
        policies=["on-disconnected"],
        timeouts={"connect_s": 40, "recover_s": 40, "observe_s": 1},
    )
    run = run_experiment(experiment, out)
    columns = ["trial_id", "status", "recovered", "media_gap_ms", "failure_reason"]
    print(run.trials[[c for c in columns if c in run.trials]].to_string(index=False))
    print(f"{len(run.events)} events; run folder {run.path}")
    return 0 if run.trials["status"].eq("ok").all() else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
