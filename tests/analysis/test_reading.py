"""The plain-language reading says only what the data support."""

from __future__ import annotations

from lab.analysis import summary_table
from lab.analysis.reading import reading

from .tables import frame, trial


def read(rows: list[dict[str, object]]) -> str:
    trials = frame(rows)
    paragraphs = reading(summary_table(trials, n_resamples=500), trials, n_resamples=500)
    assert len(paragraphs) == 1
    return paragraphs[0]


def test_few_trials_are_no_evidence() -> None:
    text = read([trial("on-failed", 300.0), trial("on-failed", 310.0),
                 trial("on-disconnected", 100.0), trial("on-disconnected", 110.0),
                 trial("none", 0.0, recovered=False), trial("none", 0.0, recovered=False)])
    assert "on-disconnected had the shortest median media gap, 105 ms" in text
    assert "2 of 2 trials recovered" in text
    assert "105 ms (n = 2, too small for an interval" in text  # no interval from 2 trials
    assert "took 200 ms longer;" in text
    # 6 ways to split four values 2 + 2, two of them as extreme as the observed one
    assert "a permutation test cannot rule out chance (p = 0.33; with 2 and 2 trials no result could go " \
           "below 0.33)" in text
    assert "Never recovered within the timeout: none (0 of 2)" in text
    assert "About 5 trials per policy would detect a difference this size 80% of the time" in text
    assert "a rough guide from only 2 trials each" in text
    assert "Run at least 5 repetitions" in text


def test_separated_policies_with_enough_trials() -> None:
    fast = [trial("on-disconnected", 100.0 + i) for i in range(6)]
    slow = [trial("on-failed", 300.0 + i) for i in range(6)]
    text = read(slow + fast)
    assert "on-disconnected had the shortest" in text
    assert "a permutation test makes chance an unlikely explanation (p = 0.013)" in text  # 12 of C(12, 6)
    assert "Run at least" not in text


def test_overlapping_policies_are_not_separated() -> None:
    a = [trial("on-disconnected", g) for g in (100.0, 300.0, 500.0, 200.0, 400.0)]
    b = [trial("on-failed", g) for g in (110.0, 310.0, 510.0, 210.0, 410.0)]
    text = read(a + b)
    assert "a permutation test cannot rule out chance (p = 1.00)" in text
    assert "Telling them apart would take more than 100 trials per policy" in text


def test_media_back_on_the_old_path_is_said_plainly() -> None:
    rows = [trial("on-failed", 300.0 + i) for i in range(3)] + [trial("on-disconnected", 200.0 + i) for i in range(3)]
    for row in rows:
        row["resumed_on"] = "old-path" if row["policy"] == "on-failed" else "new-pair"
    text = read(rows)
    assert "Media came back on the old path" in text and "on-failed (3 of 3 recovered trials)" in text
    assert "a restart did not cause the recovery" in text and "on-disconnected (" not in text.split("old path")[1]


def test_media_back_on_an_unknown_path_is_said_plainly() -> None:
    rows = [trial("on-failed", 300.0 + i) for i in range(3)] + [trial("on-disconnected", 200.0 + i) for i in range(3)]
    for row, resumed_on in zip(rows, ["unknown", "new-pair", "new-pair", "new-pair", "new-pair", "new-pair"], strict=True):
        row["resumed_on"] = resumed_on
    text = read(rows)
    assert "In on-failed (1 of 3 recovered trials) a peer could not say which path carried its media" in text
    assert "whether the restart brought it back is unknown" in text and "old path" not in text


def test_a_fast_policy_that_fails_often_is_flagged() -> None:
    text = read([trial("on-disconnected", 100.0)] + [trial("on-disconnected", 0.0, recovered=False)] * 4
                + [trial("on-failed", 300.0 + i) for i in range(5)])
    assert "on-disconnected had the shortest" in text
    assert "But on-disconnected recovered less often than on-failed (5 of 5 trials recovered)" in text


def test_nothing_recovered() -> None:
    text = read([trial("none", 0.0, recovered=False)] * 3)
    assert "no policy recovered in any trial (3 trials)" in text


def test_single_trials_get_no_interval() -> None:
    text = read([trial("on-failed", 300.0), trial("on-disconnected", 100.0)])
    assert "on-disconnected had the shortest median media gap, 100 ms (a single trial, so no interval; " \
           "1 of 1 trial recovered)" in text
    assert "took 200 ms longer; a permutation test cannot rule out chance (p = 1.00; with 1 and 1 trials no " \
           "result could go below 1.00)" in text
    assert "95 % CI" not in text
