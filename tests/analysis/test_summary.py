"""Summary tables and recovery phases on small hand-made trials tables."""

from __future__ import annotations

import math

import pytest

from lab.analysis import compare_policies, peer_kind_table, recovery_phases, summary_table
from lab.analysis.summary import PHASES

from .tables import frame, trial


def test_summary_counts_percentiles_and_recovered() -> None:
    trials = frame([
        trial("on-failed", 100.0), trial("on-failed", 300.0), trial("on-failed", 200.0),
        trial("on-failed", 0.0, recovered=False),
        trial("none", 0.0, recovered=False), trial("none", 0.0, recovered=False),
    ])
    summary = summary_table(trials, n_resamples=500).set_index("policy")
    failed = summary.loc["on-failed"]
    assert failed["n"] == 4 and failed["recovered"] == 3
    assert failed["recovered_pct"] == 75.0
    assert failed["gap_median"] == 200.0  # over the recovered trials only
    assert failed["gap_p90"] == pytest.approx(280.0)  # rank 0.9 * 2 = 1.8 -> 200 + 0.8 * 100
    assert failed["gap_p95"] == pytest.approx(290.0)
    # 3 trials: no interval (the BCa median interval needs 5, p90 20, p95 40)
    assert math.isnan(failed["gap_median_lo"]) and math.isnan(failed["gap_p90_lo"])
    more = frame([trial("on-failed", g) for g in (100.0, 300.0, 200.0, 250.0, 150.0)])
    five = summary_table(more, n_resamples=500).iloc[0]
    assert 100.0 <= five["gap_median_lo"] <= 200.0 <= five["gap_median_hi"] <= 300.0
    assert math.isnan(five["gap_p90_lo"])
    assert failed["recovered_pct_lo"] < 75.0 < failed["recovered_pct_hi"]
    none = summary.loc["none"]
    assert none["recovered_pct"] == 0.0 and math.isnan(none["gap_median"]) and none["gap_n"] == 0
    assert list(summary.index) == ["on-failed", "none"]  # the experiment's order, not alphabetical


def test_summary_groups_by_rtt() -> None:
    trials = frame([trial("on-failed", 100.0, rtt=0), trial("on-failed", 900.0, rtt=100),
                    trial("on-failed", 1100.0, rtt=100)])
    summary = summary_table(trials, n_resamples=200)
    assert list(summary["rtt_ms"]) == [0.0, 100.0]
    assert list(summary["gap_median"]) == [100.0, 1000.0]


def test_recovery_phases_add_up_and_are_clamped() -> None:
    rows = [
        # every milestone in order
        trial("on-disconnected", 2500.0, t_detected=11.0, t_restart=11.5, t_answer=12.0, t_new_pair=12.2,
              t_media_resumed=12.5),
        # a peer reported its new pair after media flowed again: checks end at the media
        trial("on-disconnected", 2500.0, t_detected=11.0, t_restart=11.5, t_answer=12.0, t_new_pair=13.0,
              t_media_resumed=12.5),
        # the candidate on the new network came 100 ms after the answer: a gathering phase
        trial("on-disconnected", 2500.0, t_detected=11.0, t_restart=11.5, t_answer=12.0, t_candidate=12.1,
              t_new_pair=12.2, t_media_resumed=12.5),
        # media came back on the old path: everything after the detection is the old path's
        trial("none", 4000.0, t_detected=11.0, t_media_resumed=14.0),
        # a new pair without a restart
        trial("none", 4000.0, t_detected=11.0, t_media_resumed=14.0),
        # never recovered: no phases
        trial("none", 0.0, recovered=False, t_detected=11.0),
        # a peer could not say which path carried its media: no restart phase is claimed, even
        # with every milestone there
        trial("on-disconnected", 2500.0, t_detected=11.0, t_restart=11.5, t_answer=12.0, t_new_pair=12.2,
              t_media_resumed=12.5),
    ]
    for row, resumed_on in zip(rows, ["new-pair", "new-pair", "new-pair", "old-path", "new-pair", "none", "unknown"],
                               strict=False):
        row["resumed_on"] = resumed_on
    trials = frame(rows)
    phases = recovery_phases(trials)
    assert list(phases.columns) == PHASES
    assert phases.iloc[0].tolist() == pytest.approx([1000, 500, 500, 0, 200, 300, 0, 0, 0])
    assert phases.iloc[1].tolist() == pytest.approx([1000, 500, 500, 0, 500, 0, 0, 0, 0])
    assert phases.iloc[2].tolist() == pytest.approx([1000, 500, 500, 100, 100, 300, 0, 0, 0])
    assert phases.iloc[3].tolist() == pytest.approx([1000, 0, 0, 0, 0, 0, 3000, 0, 0])
    assert phases.iloc[4].tolist() == pytest.approx([1000, 0, 0, 0, 0, 0, 0, 3000, 0])
    assert phases.iloc[5].isna().all()
    assert phases.iloc[6].tolist() == pytest.approx([1000, 0, 0, 0, 0, 0, 0, 0, 1500])
    recovered = [0, 1, 2, 3, 4, 6]
    sums = phases.iloc[recovered].sum(axis=1).tolist()
    assert sums == pytest.approx(trials["recovery_ms"].iloc[recovered].tolist())
    summary = summary_table(trials, n_resamples=100).set_index("policy")
    assert summary.loc["none", "resumed_old_path"] == 1 and summary.loc["none", "resumed_new_pair"] == 1
    assert summary.loc["on-disconnected", "resumed_new_pair"] == 3
    assert summary.loc["on-disconnected", "resumed_unknown"] == 1
    # the restart's phases are over the new-pair trials only: the unknown one adds nothing
    assert summary.loc["on-disconnected", "signaling_median"] == pytest.approx(500.0)


def test_comparison_effect_sizes_by_hand() -> None:
    trials = frame([
        trial("on-failed", 300.0), trial("on-failed", 400.0),
        trial("on-disconnected", 100.0), trial("on-disconnected", 200.0),
        trial("on-disconnected", 0.0, recovered=False),
        trial("none", 0.0, recovered=False),
    ])
    table = compare_policies(trials, n_resamples=500)
    assert len(table) == 1  # only the disconnected variant against on-failed by default
    row = table.iloc[0]
    assert (row["variant"], row["baseline"]) == ("on-disconnected", "on-failed")
    assert (row["n_variant"], row["n_baseline"]) == (3, 2)
    assert row["median_variant"] == 150.0 and row["median_baseline"] == 350.0
    assert row["diff_median"] == -200.0
    assert math.isnan(row["diff_median_lo"])  # 2 and 3 trials: too few for an interval
    # variant [100, 200, never] vs baseline [300, 400]: 4 pairs faster, 2 slower (the unrecovered one)
    assert row["cliffs_delta"] == pytest.approx((2 - 4) / 6)
    assert row["p_faster"] == pytest.approx(4 / 6)
    # [100, 200] vs [300, 400]: 6 ways to split four values 2 + 2, the two extreme ones reach |diff| = 200
    assert row["p_permutation"] == pytest.approx(2 / 6)
    assert row["recovered_pct_variant"] == pytest.approx(200 / 3)


def test_comparison_against_any_baseline_and_without_one() -> None:
    trials = frame([trial("on-failed", 300.0), trial("none", 0.0, recovered=False)])
    assert compare_policies(trials).empty  # no variant
    table = compare_policies(trials, baseline="on-failed", variants=["none"], n_resamples=200)
    assert table.iloc[0]["cliffs_delta"] == 1.0  # never recovering is slower than recovering
    assert math.isnan(table.iloc[0]["diff_median"])
    no_base = frame([trial("on-disconnected", 100.0)])
    assert compare_policies(no_base).empty


def test_peer_kinds_and_runtimes_are_separate_conditions() -> None:
    from lab.analysis.plots import condition_label

    rows = [trial("on-failed", 100.0), trial("on-failed", 200.0),
            {**trial("on-failed", 900.0), "peer_kind": "chromium"},
            {**trial("on-failed", 500.0), "runtime": "docker"}]
    trials = frame(rows)
    trials.loc[[0, 1], ["peer_kind", "runtime"]] = None  # runs made before the columns existed
    summary = summary_table(trials, n_resamples=200)
    assert sorted(zip(summary["peer_kind"], summary["runtime"], summary["gap_median"], strict=False)) == [
        ("aiortc", "docker", 500.0), ("aiortc", "netns", 150.0), ("chromium", "netns", 900.0)]
    labels = {condition_label(dict(r)) for _, r in summary.iterrows()}
    assert labels == {"blackhole, RTT 0 ms", "blackhole, chromium peers, RTT 0 ms", "blackhole, docker, RTT 0 ms"}


def test_browser_state_is_a_condition() -> None:
    from lab.analysis.plots import condition_label

    rows = [{**trial("on-failed", 100.0), "peer_kind": "chromium", "browser_state": "warm"},
            {**trial("on-failed", 900.0), "peer_kind": "chromium", "browser_state": "fresh"},
            trial("on-failed", 300.0)]
    trials = frame(rows)
    trials.loc[2, "browser_state"] = None  # an aiortc trial of a run made before the column existed
    summary = summary_table(trials, n_resamples=200)
    assert sorted(zip(summary["browser_state"], summary["gap_median"], strict=False)) == [
        ("fresh", 900.0), ("n/a", 300.0), ("warm", 100.0)]
    labels = {condition_label(dict(r)) for _, r in summary.iterrows()}
    assert "blackhole, chromium peers, warm browser, RTT 0 ms" in labels


def test_peer_kinds_side_by_side() -> None:
    trials = frame([
        {**trial("on-failed", 100.0), "peer_kind": "aiortc"},
        {**trial("on-failed", 300.0), "peer_kind": "aiortc"},
        {**trial("on-failed", 900.0), "peer_kind": "chromium-aiortc"},
        {**trial("on-failed", 0.0, recovered=False), "peer_kind": "chromium-aiortc"},
        {**trial("none", 0.0, recovered=False), "peer_kind": "aiortc"},
    ])
    table = peer_kind_table(summary_table(trials, n_resamples=200)).set_index("policy")
    assert table.attrs["peer_kinds"] == ["aiortc", "chromium-aiortc"]
    failed = table.loc["on-failed"]
    assert (failed["aiortc_n"], failed["aiortc_recovered"], failed["aiortc_gap_median"]) == (2, 2, 200.0)
    assert (failed["chromium-aiortc_n"], failed["chromium-aiortc_recovered"]) == (2, 1)
    assert failed["chromium-aiortc_gap_median"] == 900.0
    none = table.loc["none"]  # a policy one kind never ran
    assert none["aiortc_n"] == 1 and none["chromium-aiortc_n"] == 0
    assert math.isnan(none["chromium-aiortc_gap_median"])


def test_one_peer_kind_has_no_side_by_side_table() -> None:
    trials = frame([trial("on-failed", 100.0), trial("on-failed", 200.0)])
    assert peer_kind_table(summary_table(trials, n_resamples=100)).empty
