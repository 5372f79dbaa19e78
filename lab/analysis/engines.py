"""Engines side by side: per peer (not per trial), which engine notices the fault first and at
which end media comes back first, per policy.

For every trial and each of its two peers: the peer's engine (its kind: aiortc, chromium,
firefox; an aiortc peer running a calibrated lab.rtc profile is "aiortc~chrome" etc., marked as
a stand-in), its own detection (its first 'disconnected' or 'failed' ICE/connection state after
the fault, ms) and its own recovery (the first unit after its receive gap, i.e. media back AT
that peer, ms after the fault; lab.experiment.metrics.direction_metrics) with the path that
carried it there (resumed_on: new-pair, old-path, or unknown when the peer cannot say). A peer
whose incoming media the fault did not interrupt (no outage, the same path before and after it)
has no media-back time, and trials the fault interrupted in no direction are left out
(lab.analysis.summary). In trials whose two peers run different engines, "first" counts which
engine's peer was earlier.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from lab.analysis.summary import interrupted_only
from lab.experiment.metrics import direction_metrics

ROLES = ("offerer", "answerer")
LOST_STATES = ("disconnected", "failed")


def engine_of(trial: pd.Series, events: pd.DataFrame, role: str) -> str:
    kind = str(trial.get(f"{role}_kind") or "aiortc")
    if "~" in kind:  # the trial's kind names the stand-in already
        return kind
    ready = events[(events["peer"] == role) & (events["kind"] == "agent_ready")]
    for detail in ready["detail"]:
        profile = json.loads(detail or "{}").get("rtc_profile")
        if profile:
            return f"{kind}~{profile}"
    return kind


def peer_rows(trial: pd.Series, events: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per peer of the trial (empty without a fault)."""
    faults = events.loc[events["kind"] == "fault", "t_monotonic"]
    if not len(faults):
        return []
    t_fault = float(faults.min())
    ends = events.loc[events["kind"] == "trial_end", "t_monotonic"]  # not the teardown's events
    t_end = float(ends.min()) if len(ends) else float(events["t_monotonic"].max())
    rows = []
    for role in ROLES:
        mine = events[(events["peer"] == role) & (events["t_monotonic"] >= t_fault)]
        lost = mine[mine["kind"].isin(["ice_state", "connection_state"]) & mine["state"].isin(LOST_STATES)]
        detected = (float(lost["t_monotonic"].min()) - t_fault) * 1000.0 if len(lost) else math.nan
        direction = direction_metrics(events, role, t_fault, t_end, None)
        resumed = direction.t_media_resumed
        rows.append({
            "trial_id": trial["trial_id"], "run": trial.get("run", ""), "policy": trial["policy"], "role": role,
            "engine": engine_of(trial, events, role), "pair": trial.get("peer_kind", ""),
            "detected_ms": detected,
            "media_back_ms": (resumed - t_fault) * 1000.0
            if direction.interrupted and not math.isnan(resumed) else math.nan,
            "interrupted": direction.interrupted,
            "resumed_on": direction.resumed_on if direction.interrupted else "not-interrupted",
        })
    return rows


def engine_peers(trials: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """One row per peer of every trial; empty when the trials name a single engine (nothing to compare)."""
    kinds = {str(k) for column in ("offerer_kind", "answerer_kind") if column in trials for k in trials[column].dropna()}
    if len(kinds) < 2:
        return pd.DataFrame()
    keys = ["run", "trial_id"] if "run" in events and "run" in trials else ["trial_id"]
    by_trial = {k if isinstance(k, tuple) else (k,): group for k, group in events.groupby(keys, sort=False)}
    rows: list[dict[str, Any]] = []
    for _, trial in interrupted_only(trials).iterrows():
        mine = by_trial.get(tuple(trial[k] for k in keys))
        if mine is not None:
            rows += peer_rows(trial, mine)
    return pd.DataFrame(rows)


def _first(group: pd.DataFrame, column: str) -> str | None:
    values = group[column]
    if group["engine"].nunique() < 2 or values.isna().all():
        return None
    return str(group.loc[values.idxmin(), "engine"])


def engine_table(peers: pd.DataFrame) -> pd.DataFrame:
    """Per policy and engine: peers, median detection and media-back times, and in mixed-engine
    trials how often this engine was first (detected_first / media_back_first of mixed_trials)."""
    if not len(peers) or peers["engine"].nunique() < 2:
        return pd.DataFrame()
    firsts: dict[tuple[str, str], dict[str, int]] = {}
    for (policy, _run, _trial), group in peers.groupby(["policy", "run", "trial_id"], sort=False):
        if group["engine"].nunique() < 2:
            continue
        for engine in group["engine"].unique():
            counts = firsts.setdefault((policy, engine), {"mixed_trials": 0, "detected_first": 0, "media_back_first": 0})
            counts["mixed_trials"] += 1
            counts["detected_first"] += int(_first(group, "detected_ms") == engine)
            counts["media_back_first"] += int(_first(group, "media_back_ms") == engine)
    rows = []
    for (policy, engine), group in peers.groupby(["policy", "engine"], sort=False):
        counts = firsts.get((policy, engine), {"mixed_trials": 0, "detected_first": 0, "media_back_first": 0})
        rows.append({"policy": policy, "engine": engine, "stand_in": "~" in engine, "peers": len(group),
                     "detected_ms_median": group["detected_ms"].median(),
                     "detected": int(group["detected_ms"].notna().sum()),
                     "media_back_ms_median": group["media_back_ms"].median(),
                     "media_back": int(group["media_back_ms"].notna().sum()),
                     **{f"back_{path.replace('-', '_')}": int((group["resumed_on"] == path).sum())
                        for path in ("new-pair", "old-path", "unknown")},
                     **counts})
    return pd.DataFrame(rows)
