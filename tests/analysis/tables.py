"""Small hand-made trials tables for the analysis tests (the columns of lab.experiment.trial)."""

from __future__ import annotations

import math

import pandas as pd

NAN = math.nan


def trial(policy: str, gap: float, *, recovered: bool = True, rtt: float = 0.0, trigger: str | None = None,
          **times: float) -> dict[str, object]:
    trigger = trigger or {"on-failed": "failed", "none": "never"}.get(policy, "disconnected")
    row: dict[str, object] = {
        "experiment": "hand", "fault": "blackhole", "policy": policy, "trigger": trigger, "action": "restart-ice",
        "rtt_ms": rtt, "loss_pct": 0.0, "recovered": recovered, "media_gap_ms": gap if recovered else NAN,
        "t_fault": 10.0,
    }
    for name in ("t_detected", "t_restart", "t_answer", "t_candidate", "t_new_pair", "t_media_resumed"):
        row[name] = times.get(name, NAN)
    if recovered and not math.isnan(row["t_media_resumed"]):  # type: ignore[arg-type]
        row["recovery_ms"] = (row["t_media_resumed"] - 10.0) * 1000.0  # type: ignore[operator]
    return row


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    table["index"] = range(len(table))
    table["trial_id"] = [f"t{i}" for i in range(len(table))]
    return table
