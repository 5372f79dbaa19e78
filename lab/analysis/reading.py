"""A short plain-language reading of a summary: which policy recovered fastest, saying only
what the data support: n, confidence intervals where n allows them, whether a permutation test can
tell the fastest policy from the next one (two-sided, on the difference of medians, alpha 0.05),
how many trials would tell them apart, plainly when media came back on the old path (so a
restart did not bring it back), and how many trials the fault did not interrupt at all (left out of
every figure: an untouched call is no recovery)."""

from __future__ import annotations

import math

import pandas as pd

from lab.analysis import stats
from lab.analysis.plots import condition_label
from lab.analysis.summary import CONDITION, GAP, interrupted_only, with_defaults

FEW_TRIALS = 5
ALPHA = 0.05


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if math.isfinite(value) else "n/a"


def _ci(lo: float, hi: float, n: int) -> str:
    if n <= 1:
        return "a single trial, so no interval"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"n = {n}, too small for an interval"
    return f"95 % CI {lo:.0f}–{hi:.0f} ms"


def _recovered(row: pd.Series) -> str:
    n = int(row["n"])
    said = f"{int(row['recovered'])} of {n} trial{'s' if n != 1 else ''} recovered"
    untouched = int(row.get("not_interrupted", 0) or 0)
    return f"{said}, {untouched} more not interrupted by the fault" if untouched else said


def _window(trials: pd.DataFrame) -> str:
    if "observed_ms" not in trials:
        return "within the timeout"
    observed = stats.clean(trials.loc[~trials["recovered"].astype(bool), "observed_ms"])
    if not len(observed):
        return "within the timeout"
    return f"within the observation window (watched {observed.min() / 1000:.0f}–{observed.max() / 1000:.0f} s " \
           "after the fault, until recover_s after it ended)"


def _unknown_path(rows: pd.DataFrame) -> str | None:
    if "resumed_unknown" not in rows:
        return None
    hit = rows[rows["resumed_unknown"] > 0]
    if not len(hit):
        return None
    parts = [f"{r['policy']} ({int(r['resumed_unknown'])} of {int(r['recovered'])} recovered trials)"
             for _, r in hit.iterrows()]
    return (f"In {', '.join(parts)} a peer could not say which path carried its media around the gap, so "
            "whether the restart brought it back is unknown and no restart phases are reported for those trials.")


def _not_interrupted(rows: pd.DataFrame) -> str | None:
    if "not_interrupted" not in rows:
        return None
    hit = rows[rows["not_interrupted"] > 0]
    if not len(hit):
        return None
    parts = [f"{r['policy']} ({int(r['not_interrupted'])} of {int(r['n']) + int(r['not_interrupted'])} trials)"
             for _, r in hit.iterrows()]
    return (f"The fault did not interrupt the media at all in {', '.join(parts)}: no outage, and each receiver's "
            "media came over the same path before and after it (the call already ran on the path the fault left "
            "alone). Those trials measured no recovery and are left out of every figure here.")


def _old_path(rows: pd.DataFrame) -> str | None:
    if "resumed_old_path" not in rows:
        return None
    hit = rows[rows["resumed_old_path"] > 0]
    if not len(hit):
        return None
    parts = [f"{r['policy']} ({int(r['resumed_old_path'])} of {int(r['recovered'])} recovered trials)"
             for _, r in hit.iterrows()]
    return ("Media came back on the old path, the same ICE generation and candidate pair as before the gap, "
            f"in {', '.join(parts)}: there the network came back and a restart did not cause the recovery, "
            "so no restart phases are reported for those trials.")


def condition_reading(key: tuple[object, ...], rows: pd.DataFrame, trials: pd.DataFrame,
                      multi_experiment: bool, n_resamples: int, seed: int) -> str:
    where = condition_label(key, multi_experiment)
    ranked = rows[rows["gap_n"] > 0].sort_values("gap_median", kind="stable")
    never = rows[(rows["recovered"] == 0) & (rows["n"] > 0)]
    sentences: list[str] = []
    untouched = _not_interrupted(rows)
    if not len(ranked):
        said = f"{where}: no policy recovered in any trial ({int(rows['n'].sum())} trials) {_window(trials)}."
        return f"{said} {untouched}" if untouched else said
    best = ranked.iloc[0]
    sentences.append(
        f"{where}: {best['policy']} had the shortest median media gap, {_ms(best['gap_median'])} "
        f"({_ci(best['gap_median_lo'], best['gap_median_hi'], int(best['gap_n']))}; {_recovered(best)}).")
    if len(ranked) > 1:
        second = ranked.iloc[1]
        mine = trials[(trials["policy"] == best["policy"]) & trials["recovered"]][GAP]
        theirs = trials[(trials["policy"] == second["policy"]) & trials["recovered"]][GAP]
        diff = stats.bootstrap_median_difference(theirs, mine, n_resamples=n_resamples, seed=seed)
        counts = (int(best["gap_n"]), int(second["gap_n"]))
        took = (f"The next fastest, {second['policy']} ({_ms(second['gap_median'])}; {_recovered(second)}), "
                f"took {diff.value:.0f} ms longer")
        if diff.has_interval:
            took += f" (95 % CI {diff.lo:.0f} to {diff.hi:.0f} ms)"
        p = stats.permutation_p_median_difference(theirs, mine, seed=seed)
        floor = stats.permutation_floor(counts[1], counts[0], seed=seed)
        separated = p < ALPHA and (not diff.has_interval or diff.lo > 0)
        if separated:
            sentences.append(f"{took}; a permutation test makes chance an unlikely explanation (p = {p:.3f}).")
        else:
            limit = (f"; with {counts[0]} and {counts[1]} trials no result could go below {floor:.2f}"
                     if floor >= ALPHA else "")
            sentences.append(f"{took}; a permutation test cannot rule out chance (p = {p:.2f}{limit}).")
            needed = stats.repetitions_for_power(theirs, mine, seed=seed)
            if min(counts) >= 2:
                if needed is None:
                    sentences.append("Telling them apart would take more than "
                                     f"{stats.POWER_SIZES[-1]} trials per policy at this spread.")
                else:
                    rough = (f", a rough guide from only {min(counts)} trials each" if min(counts) < FEW_TRIALS
                             else "")
                    sentences.append(f"About {needed} trials per policy would detect a difference this size "
                                     f"{stats.POWER:.0%} of the time (Mann-Whitney, alpha {ALPHA}; simulated from "
                                     f"the observed trials{rough}).")
    if untouched:
        sentences.append(untouched)
    more_reliable = rows[rows["recovered_pct"] > best["recovered_pct"]]
    if len(more_reliable):
        names = ", ".join(f"{r['policy']} ({_recovered(r)})" for _, r in more_reliable.iterrows())
        sentences.append(f"But {best['policy']} recovered less often than {names}.")
    old_path = _old_path(rows)
    if old_path:
        sentences.append(old_path)
    unknown = _unknown_path(rows)
    if unknown:
        sentences.append(unknown)
    if len(never):
        names = ", ".join(f"{r['policy']} (0 of {int(r['n'])})" for _, r in never.iterrows())
        sentences.append(f"Never recovered {_window(trials)}: {names}.")
    fewest = int(rows["n"].min())  # the trials that measured a recovery
    if fewest < FEW_TRIALS:
        sentences.append(f"Run at least {FEW_TRIALS} repetitions (icelab run --trials N) before drawing conclusions.")
    return " ".join(sentences)


def reading(summary: pd.DataFrame, trials: pd.DataFrame, *, n_resamples: int = stats.N_RESAMPLES,
            seed: int = stats.SEED) -> list[str]:
    """One paragraph per condition (experiment, fault, RTT, loss)."""
    trials = interrupted_only(with_defaults(trials))
    multi = summary["experiment"].nunique() > 1 if len(summary) else False
    paragraphs = []
    for key, rows in summary.groupby(CONDITION, sort=True, dropna=False):
        mask = pd.Series(True, index=trials.index)
        for column, value in zip(CONDITION, key, strict=False):
            mask &= trials[column] == value
        paragraphs.append(condition_reading(key, rows, trials[mask], multi, n_resamples, seed))
    return paragraphs
