"""Summary tables of a set of trials: per condition and policy, and policy against policy.

A *condition* is what the trials were put through: the experiment, its fault, the peers (aiortc,
chromium, or a mix), the runtime (netns, docker), the RTT and the loss of the matrix. Within a
condition the policies are compared. Media-gap statistics are over the trials that recovered (a
trial that never recovered has no gap); how many did is reported beside them, so a policy cannot
look fast by failing.

The recovery (fault -> media resumed at both receivers) is split into phases between the
milestones of lab.experiment.metrics, in order:

    detection    fault -> first 'disconnected'/'failed'/network change (t_detected)
    decision     detected -> the restart that worked (t_restart; its policy's grace included)
    signaling    restart -> the answer to that restart's offer, applied at the offering side
    gathering    answer -> the first candidate of the new generation on the interface that carries
                 media, when that candidate came after the answer (gathering_ms itself runs from
                 the restart and is reported beside the phases)
    checks       max(answer, that candidate) -> the new pair (the cut-over of the sender whose media
                 resumed last)
    first media  new pair -> media resumed at both receivers (t_media_resumed)
    old path     media came back on the path it had before the gap (resumed_on = old-path): the
                 restart, if any, had no part in it; everything after the detection goes here
    no restart   media came back on a new pair without a restart reaching it (e.g. a new
                 peer-reflexive pair of the same generation)
    path unknown a receiver could not say which path carried the units around its gap (resumed_on =
                 unknown): whether the restart brought media back is not known, so everything after
                 the detection goes here and no restart phase is claimed

A trial the fault interrupted in no direction (no outage, each receiver's media on the same path
before and after it: lab.experiment.metrics `interrupted`) measured no recovery: it is counted apart
per cell (not_interrupted) and left out of n, the recovered %, the gaps, the phases and the
comparisons, so that an untouched call never passes for a fast recovery. Runs recorded before the
column existed have it derived from their per-direction columns (interrupted_of).

Phases after the restart exist only for trials resumed on a new pair; the trials resumed on the old
path are counted (resumed_old_path) so that a reader sees when a policy's "recovery" was the old
path coming back.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from lab.analysis import stats
from lab.experiment.metrics import NOT_INTERRUPTED

CONDITION = ["experiment", "fault", "path", "peer_kind", "browser_state", "runtime", "rtt_ms", "loss_pct"]
GROUP = ["experiment", "fault", "path", "peer_kind", "browser_state", "runtime", "policy", "rtt_ms", "loss_pct"]
# what a trial table without the column means (runs made before the column existed)
DEFAULTS: dict[str, object] = {"experiment": "", "fault": "?", "path": "p2p", "peer_kind": "aiortc",
                               "browser_state": "n/a",
                               "runtime": "netns",
                               "loss_pct": 0.0, "rtt_ms": 0.0}
MILESTONES = ["t_detected", "t_restart", "t_answer", "t_candidate", "t_new_pair"]
PHASES = ["detection", "decision", "signaling", "gathering", "checks", "first_media", "old_path", "no_restart",
          "path_unknown"]
PHASE_LABELS = {
    "detection": "detection (fault → disconnected/failed)",
    "decision": "decision (→ restart call)",
    "signaling": "signaling (restart → answer)",
    "gathering": "gathering (answer → new-network candidate)",
    "checks": "checks (→ new pair)",
    "first_media": "first media (new pair → media)",
    "old_path": "old path (media back without the restart)",
    "no_restart": "no restart (new pair without one)",
    "path_unknown": "path unknown (which pair carried media not reported)",
}
AFTER_RESTART = ("decision", "signaling", "gathering", "checks", "first_media")
# per-trial columns summarised beside the gap (median per policy)
GAPS_FROM_STATES = ["disconnected_to_media_ms", "failed_to_media_ms"]
GAP = "media_gap_ms"


def interrupted_of(trials: pd.DataFrame) -> pd.Series:
    """Per trial, whether the fault interrupted its media: the `interrupted` column, or for rows
    recorded without it, lab.experiment.metrics' rule from the row: a trial that recovered with no
    outage and every receiver's media back on the old path was not interrupted (without the
    per-direction columns nothing shows it untouched: interrupted)."""
    if "interrupted" in trials:
        return trials["interrupted"].astype("boolean").fillna(True).astype(bool)
    directions = [c for c in trials.columns if c.startswith("resumed_on_")]
    if not directions or "outages" not in trials or "recovered" not in trials:
        return pd.Series(True, index=trials.index)
    outages = pd.to_numeric(trials["outages"], errors="coerce").fillna(1)
    old_path = pd.concat([trials[c].isna() | (trials[c] == "old-path") for c in directions], axis=1).all(axis=1)
    untouched = trials["recovered"].fillna(False).astype(bool) & (outages == 0) & old_path
    return ~untouched


def mark_interrupted(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials with `interrupted`; a row recorded before the column whose trial the fault did not
    interrupt gets what lab.experiment.metrics gives it now (not recovered, no gap, the reason)."""
    if "interrupted" in trials:
        if trials["interrupted"].dtype != bool:
            trials = trials.assign(interrupted=interrupted_of(trials))
        return trials
    trials = trials.assign(interrupted=interrupted_of(trials))
    untouched = ~trials["interrupted"]
    if untouched.any():
        trials.loc[untouched, "recovered"] = False
        for column in ("media_gap_ms", "media_gap_ms_at_offerer", "media_gap_ms_at_answerer", "recovery_ms",
                       "t_media_resumed", "disconnected_to_media_ms", "failed_to_media_ms"):
            if column in trials:
                trials.loc[untouched, column] = math.nan
        if "failure_reason" in trials:
            trials["failure_reason"] = trials["failure_reason"].astype(object)
        trials.loc[untouched, "failure_reason"] = NOT_INTERRUPTED
    return trials


def interrupted_only(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials that measured a recovery (the fault interrupted their media)."""
    return trials[interrupted_of(trials).to_numpy()]


def with_defaults(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials with the grouping columns present (older or partial runs may lack some) and
    `interrupted` (see mark_interrupted)."""
    trials = mark_interrupted(trials.copy())
    for column, default in DEFAULTS.items():
        if column not in trials:
            trials[column] = default
        else:
            trials[column] = trials[column].fillna(default)
    return trials


def policy_order(trials: pd.DataFrame) -> list[str]:
    """Policies in the order the experiment lists them (the order of their first trial)."""
    order = trials.sort_values("index") if "index" in trials else trials
    return list(dict.fromkeys(order["policy"].astype(str)))


def recovery_phases(trials: pd.DataFrame) -> pd.DataFrame:
    """Per trial, the recovery split into PHASES (ms; NaN where media did not resume)."""
    rows = []
    for _, trial in trials.iterrows():
        rows.append(_phases_of(trial))
    return pd.DataFrame(rows, index=trials.index, columns=PHASES, dtype="float64")


def _phases_of(trial: pd.Series) -> list[float]:
    t_fault = float(trial.get("t_fault", math.nan))
    end = float(trial.get("t_media_resumed", math.nan))
    if not (math.isfinite(t_fault) and math.isfinite(end)) or not bool(trial.get("recovered", False)):
        return [math.nan] * len(PHASES)
    out = dict.fromkeys(PHASES, 0.0)
    t_detected = float(trial.get("t_detected", math.nan))
    detected = min(max(t_detected, t_fault), end) if math.isfinite(t_detected) else t_fault
    out["detection"] = (detected - t_fault) * 1000.0
    resumed_on = trial.get("resumed_on", "new-pair")
    milestones = [float(trial.get(name, math.nan)) for name in ("t_restart", "t_answer", "t_candidate", "t_new_pair")]
    t_restart, t_answer, t_candidate, t_new_pair = milestones
    if resumed_on == "old-path" or not isinstance(resumed_on, str):
        out["old_path"] = (end - detected) * 1000.0
        return list(out.values())
    if resumed_on == "unknown":
        out["path_unknown"] = (end - detected) * 1000.0
        return list(out.values())
    if not all(math.isfinite(t) for t in (t_restart, t_answer, t_new_pair)):
        out["no_restart"] = (end - detected) * 1000.0
        return list(out.values())
    ready = max(t_answer, t_candidate) if math.isfinite(t_candidate) else t_answer
    previous = detected
    for name, t in (("decision", t_restart), ("signaling", t_answer), ("gathering", ready),
                    ("checks", t_new_pair), ("first_media", end)):
        t = min(max(t, previous), end)
        out[name] = (t - previous) * 1000.0
        previous = t
    return list(out.values())


def _mean(values: pd.Series) -> float:
    finite = stats.clean(values)
    return float(finite.mean()) if len(finite) else math.nan


def _ordered(frame: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    order = {p: i for i, p in enumerate(policy_order(trials))}
    frame = frame.assign(_order=frame["policy"].map(order))
    keys = [c for c in CONDITION if c in frame] + ["_order"]
    return frame.sort_values(keys).drop(columns="_order").reset_index(drop=True)


def summary_table(trials: pd.DataFrame, *, n_resamples: int = stats.N_RESAMPLES,
                  seed: int = stats.SEED) -> pd.DataFrame:
    """One row per (experiment, fault, policy, RTT, loss): n (the trials the fault interrupted;
    not_interrupted: the others, left out of every statistic; trials: both), recovered % (Wilson
    95 % CI), the media gap's median / p90 / p95 and each phase's median, all with bootstrap 95 % CIs."""
    trials = with_defaults(trials)
    phases = recovery_phases(trials)
    rows: list[dict[str, Any]] = []
    for key, every in trials.groupby(GROUP, sort=False, dropna=False):
        row: dict[str, Any] = dict(zip(GROUP, key, strict=False))
        group = every[every["interrupted"]]
        n = len(group)
        recovered = int(group["recovered"].sum())
        lo, hi = stats.wilson_interval(recovered, n)
        row.update(n=n, not_interrupted=len(every) - n, trials=len(every), recovered=recovered,
                   recovered_pct=100.0 * recovered / n if n else math.nan,
                   recovered_pct_lo=100.0 * lo, recovered_pct_hi=100.0 * hi)
        gaps = group.loc[group["recovered"], GAP]
        for label, q in (("median", 50), ("p90", 90), ("p95", 95)):
            est = stats.bootstrap_percentile(gaps, q, n_resamples=n_resamples, seed=seed)
            row.update({f"gap_{label}": est.value, f"gap_{label}_lo": est.lo, f"gap_{label}_hi": est.hi})
        row["gap_n"] = int(stats.clean(gaps).size)
        resumed_on = group["resumed_on"] if "resumed_on" in group else pd.Series("new-pair", index=group.index)
        row["resumed_new_pair"] = int(((resumed_on == "new-pair") & group["recovered"]).sum())
        row["resumed_old_path"] = int(((resumed_on == "old-path") & group["recovered"]).sum())
        row["resumed_unknown"] = int(((resumed_on == "unknown") & group["recovered"]).sum())
        for column in GAPS_FROM_STATES + ["gathering_ms", "observed_ms", "outages", "freezes", "freeze_ms",
                                          "negotiations", "rollbacks", "units_dropped_by_sender"]:
            values = group.loc[group["recovered"], column] if column in group else pd.Series(dtype=float)
            if column in ("observed_ms", "freezes", "freeze_ms", "outages") and column in group:
                values = group[column]  # every trial: a trial that never recovered froze too
            est = stats.bootstrap_median(values, n_resamples=n_resamples, seed=seed)
            row.update({f"{column}_median": est.value, f"{column}_lo": est.lo, f"{column}_hi": est.hi,
                        f"{column}_n": est.n})
        group_phases = phases.loc[group.index[group["recovered"].to_numpy()]]
        new_pair = phases.loc[group.index[(group["recovered"] & (resumed_on == "new-pair")).to_numpy()]]
        for phase in PHASES:
            # the restart's phases are medians over the trials a restart brought back; the means
            # (the phase bars) are over every recovered trial, so that they add up to its recovery
            source = new_pair if phase in AFTER_RESTART else group_phases
            est = stats.bootstrap_median(source[phase], n_resamples=n_resamples, seed=seed)
            row.update({f"{phase}_median": est.value, f"{phase}_lo": est.lo, f"{phase}_hi": est.hi,
                        f"{phase}_mean": _mean(group_phases[phase])})
        recovery = group.loc[group["recovered"], "recovery_ms"] if "recovery_ms" in group else pd.Series(dtype=float)
        row["recovery_median"] = stats.median(recovery)
        row["recovery_mean"] = float(np.nanmean(recovery)) if stats.clean(recovery).size else math.nan
        if "units_lost" in group:
            row["units_lost_median"] = stats.median(group.loc[group["recovered"], "units_lost"])
        rows.append(row)
    return _ordered(pd.DataFrame(rows), trials)


def default_baseline(trials: pd.DataFrame) -> str | None:
    """The restart-on-failed policy: the one named on-failed, else the first restart-ice on 'failed'."""
    names = policy_order(trials)
    if "on-failed" in names:
        return "on-failed"
    if {"trigger", "action"} <= set(trials.columns):
        match = trials[(trials["trigger"] == "failed") & (trials["action"] == "restart-ice")]
        if len(match):
            return str(match["policy"].iloc[0])
    return None


def disconnected_variants(trials: pd.DataFrame) -> list[str]:
    """The restart-on-disconnected policies (any grace, side or action)."""
    if "trigger" in trials:
        chosen = set(trials.loc[trials["trigger"] == "disconnected", "policy"].astype(str))
    else:
        chosen = {p for p in trials["policy"].astype(str) if p.startswith("on-disconnected")}
    return [p for p in policy_order(trials) if p in chosen]


def compare_policies(trials: pd.DataFrame, baseline: str | None = None,
                     variants: list[str] | None = None, *, n_resamples: int = stats.N_RESAMPLES,
                     seed: int = stats.SEED) -> pd.DataFrame:
    """Each variant against the baseline, within each condition.

    Defaults: the restart-on-disconnected variants against restart-on-failed. Columns: n and
    recovered % of both; median gaps (recovered trials); the difference of medians
    (variant - baseline, ms) with its bootstrap 95 % CI; Cliff's delta with its bootstrap CI and
    the probability that a variant trial is faster, both over all trials with a trial that never
    recovered ranked slower than any that did; and the two-sided permutation-test p of the
    difference of medians (recovered trials)."""
    trials = interrupted_only(with_defaults(trials))
    baseline = baseline or default_baseline(trials)
    variants = variants if variants is not None else disconnected_variants(trials)
    columns = CONDITION + ["variant", "baseline", "n_variant", "n_baseline", "recovered_pct_variant",
                           "recovered_pct_baseline", "median_variant", "median_baseline", "diff_median",
                           "diff_median_lo", "diff_median_hi", "cliffs_delta", "cliffs_delta_lo",
                           "cliffs_delta_hi", "p_faster", "p_permutation"]
    if baseline is None:
        return pd.DataFrame(columns=columns)
    rows: list[dict[str, Any]] = []
    for key, group in trials.groupby(CONDITION, sort=False, dropna=False):
        base = group[group["policy"] == baseline]
        if not len(base):
            continue
        for variant in variants:
            if variant == baseline:
                continue
            var = group[group["policy"] == variant]
            if not len(var):
                continue
            var_gaps, base_gaps = var.loc[var["recovered"], GAP], base.loc[base["recovered"], GAP]
            diff = stats.bootstrap_median_difference(var_gaps, base_gaps, n_resamples=n_resamples, seed=seed)
            ranked_var, ranked_base = _ranked_gaps(var), _ranked_gaps(base)
            delta = stats.bootstrap_cliffs_delta(ranked_var, ranked_base, n_resamples=n_resamples, seed=seed)
            row = dict(zip(CONDITION, key, strict=False))
            row.update(
                variant=variant, baseline=baseline, n_variant=len(var), n_baseline=len(base),
                recovered_pct_variant=100.0 * var["recovered"].mean(),
                recovered_pct_baseline=100.0 * base["recovered"].mean(),
                median_variant=stats.median(var.loc[var["recovered"], GAP]),
                median_baseline=stats.median(base.loc[base["recovered"], GAP]),
                diff_median=diff.value, diff_median_lo=diff.lo, diff_median_hi=diff.hi,
                cliffs_delta=delta.value, cliffs_delta_lo=delta.lo, cliffs_delta_hi=delta.hi,
                p_faster=stats.probability_smaller(ranked_var, ranked_base),
                p_permutation=stats.permutation_p_median_difference(var_gaps, base_gaps, seed=seed),
            )
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _ranked_gaps(group: pd.DataFrame) -> np.ndarray:
    """Media gaps with +inf for trials that never recovered (slower than any that did)."""
    gaps = group[GAP].to_numpy(dtype=float).copy()
    gaps[~group["recovered"].to_numpy(dtype=bool)] = np.inf
    return gaps[~np.isnan(gaps)]


def peer_kind_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The peer kinds side by side: one row per (condition without the peers, policy), for each
    kind its n, recovered count and median media gap with its 95 % CI. Empty when the trials
    come from one peer kind only."""
    if "peer_kind" not in summary or summary["peer_kind"].nunique() < 2:
        return pd.DataFrame()
    kinds = list(dict.fromkeys(summary["peer_kind"].astype(str)))
    keys = [c for c in GROUP if c != "peer_kind"]
    rows: list[dict[str, Any]] = []
    for key, group in summary.groupby(keys, sort=False, dropna=False):
        row: dict[str, Any] = dict(zip(keys, key, strict=False))
        by_kind = group.set_index(group["peer_kind"].astype(str))
        for kind in kinds:
            if kind in by_kind.index:
                r = by_kind.loc[kind]
                row.update({f"{kind}_n": int(r["n"]), f"{kind}_recovered": int(r["recovered"]),
                            f"{kind}_not_interrupted": int(r.get("not_interrupted", 0)),
                            f"{kind}_gap_median": r["gap_median"], f"{kind}_gap_lo": r["gap_median_lo"],
                            f"{kind}_gap_hi": r["gap_median_hi"]})
            else:
                row.update({f"{kind}_n": 0, f"{kind}_recovered": 0, f"{kind}_not_interrupted": 0,
                            f"{kind}_gap_median": math.nan,
                            f"{kind}_gap_lo": math.nan, f"{kind}_gap_hi": math.nan})
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["peer_kinds"] = kinds
    return table
