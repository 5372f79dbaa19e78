"""Trials the fault did not interrupt (lab.experiment.metrics `interrupted`): counted apart, never
as a recovery, in the summary, the comparison, the reading, the figures and the report; runs
recorded before the column (notebooks/sample_run) have it derived by the loader."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from lab.analysis import compare_policies, load_runs, summary_table
from lab.analysis.plots import representative_trials
from lab.analysis.reading import reading
from lab.analysis.report import build_report
from lab.analysis.summary import interrupted_of, mark_interrupted
from lab.experiment.metrics import NOT_INTERRUPTED

from .tables import frame, trial

UNTOUCHED = "none-rtt20-loss0-r0"  # the sample run's trial whose call already ran on LTE


def untouched(policy: str) -> dict[str, object]:
    """A row as lab.experiment.metrics writes it for a trial the fault did not interrupt."""
    row = trial(policy, 0.0, recovered=False)
    row.update(interrupted=False, resumed_on="old-path", failure_reason=NOT_INTERRUPTED)
    return row


def test_the_summary_counts_untouched_trials_apart() -> None:
    # rows without the column (NaN once pooled with rows that have it) count as interrupted
    rows = [trial("on-failed", g) for g in (100.0, 200.0, 300.0)] + [untouched("on-failed"), untouched("none")]
    summary = summary_table(frame(rows), n_resamples=200).set_index("policy")
    failed = summary.loc["on-failed"]
    assert failed["n"] == 3 and failed["not_interrupted"] == 1 and failed["trials"] == 4
    assert failed["recovered"] == 3 and failed["recovered_pct"] == 100.0 and failed["gap_median"] == 200.0
    none = summary.loc["none"]  # only untouched trials: nothing measured, no failure either
    assert none["n"] == 0 and none["not_interrupted"] == 1 and math.isnan(none["recovered_pct"])
    assert none["gap_n"] == 0


def test_untouched_trials_are_no_comparison_and_no_figure() -> None:
    rows = [trial("on-failed", g) for g in (1000.0, 1100.0, 1200.0)]
    rows += [trial("on-disconnected", g) for g in (500.0, 600.0)] + [untouched("on-disconnected")]
    trials = frame(rows)
    trials["interrupted"] = [True] * 5 + [False]
    comparison = compare_policies(trials, n_resamples=200).iloc[0]
    assert comparison["n_variant"] == 2 and comparison["recovered_pct_variant"] == 100.0
    chosen = representative_trials(trials)
    assert "t5" not in set(chosen["trial_id"])
    text = " ".join(reading(summary_table(trials, n_resamples=200), trials, n_resamples=200))
    assert "did not interrupt the media at all in on-disconnected (1 of 3 trials)" in text
    assert "2 of 2 trials recovered, 1 more not interrupted by the fault" in text


def test_rows_without_the_column_get_it_from_their_directions() -> None:
    old = pd.DataFrame({
        "recovered": [True, True, True, False],
        "outages": [0, 0, 1, 1],
        "resumed_on_offerer": ["old-path", "new-pair", "old-path", "none"],
        "resumed_on_answerer": ["old-path", "new-pair", "old-path", "none"],
        "media_gap_ms": [19.0, 160.0, 3000.0, math.nan],
        "failure_reason": [None, None, None, "media did not resume"],
    })
    assert interrupted_of(old).tolist() == [False, True, True, True]
    marked = mark_interrupted(old)
    assert marked["recovered"].tolist() == [False, True, True, False]
    assert math.isnan(marked["media_gap_ms"].iloc[0]) and marked["failure_reason"].iloc[0] == NOT_INTERRUPTED
    # nothing to derive it from: every trial counts as interrupted (nothing shows it untouched)
    assert interrupted_of(pd.DataFrame({"recovered": [True]})).tolist() == [True]


def test_the_sample_run_untouched_trial_is_no_recovery(sample_run: Path, tmp_path: Path) -> None:
    """notebooks/sample_run was recorded before the column: its none trial whose call already ran
    on LTE (no outage, media on the old path, a 19 ms "gap") is derived as not interrupted."""
    runs = load_runs([sample_run])
    trials = runs.trials.set_index("trial_id")
    if "interrupted" in pd.read_parquet(sample_run / "trials.parquet"):
        assert "interrupted" in runs.trials  # a regenerated sample run: recorded, not derived
    if UNTOUCHED not in trials.index or bool(trials.loc[UNTOUCHED, "interrupted"]):
        return  # another sample run (ICELAB_TEST_RUN) or a regenerated one without such a trial
    assert not trials.loc[UNTOUCHED, "recovered"] and math.isnan(trials.loc[UNTOUCHED, "media_gap_ms"])
    summary = summary_table(runs.trials, n_resamples=100)
    cell = summary[(summary["policy"] == "none") & (summary["rtt_ms"] == 20.0)].iloc[0]
    assert cell["not_interrupted"] == 1 and cell["n"] == cell["trials"] - 1
    page = build_report([sample_run], tmp_path / "report.html", n_resamples=100).path.read_text()
    assert "Trials the fault did not interrupt" in page and "not interrupted by the fault" in page
    assert "did not interrupt the media at all in none" in page
