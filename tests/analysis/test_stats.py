"""lab.analysis.stats against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab.analysis import stats

Z2 = stats.Z_95**2


def test_percentiles_interpolate_linearly() -> None:
    ten = list(range(1, 11))
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.percentile(ten, 90) == pytest.approx(9.1)  # rank 0.9 * 9 = 8.1 -> 9 + 0.1
    assert stats.percentile(ten, 95) == pytest.approx(9.55)  # rank 8.55 -> 9 + 0.55
    assert stats.median([1.0, math.nan, 3.0]) == 2.0  # NaN is dropped
    assert math.isnan(stats.median([]))


def test_wilson_interval_by_hand() -> None:
    # all successes: the lower bound is n / (n + z^2), the upper bound 1
    lo, hi = stats.wilson_interval(2, 2)
    assert lo == pytest.approx(2 / (2 + Z2))
    assert hi == 1.0
    # 5 of 10: centre 0.5, half-width z * sqrt(0.025 + z^2/400) / (1 + z^2/10)
    half = stats.Z_95 * math.sqrt(0.025 + Z2 / 400) / (1 + Z2 / 10)
    lo, hi = stats.wilson_interval(5, 10)
    assert lo == pytest.approx(0.5 - half) and hi == pytest.approx(0.5 + half)
    assert lo == pytest.approx(0.2366, abs=1e-4)
    assert stats.wilson_interval(0, 4)[0] == 0.0
    assert all(math.isnan(v) for v in stats.wilson_interval(0, 0))


def test_cliffs_delta_and_probability_by_hand() -> None:
    # pairs of x=[1,2,3] and y=[2,4]: x<y 4 times, x>y once (3>2), one tie (2=2)
    assert stats.cliffs_delta([1, 2, 3], [2, 4]) == pytest.approx((1 - 4) / 6)
    assert stats.probability_smaller([1, 2, 3], [2, 4]) == pytest.approx(4 / 6 + 0.5 / 6)
    # +inf (never recovered) is slower than anything, and ties with itself
    assert stats.cliffs_delta([1, math.inf], [2, math.inf]) == pytest.approx((1 - 2) / 4)
    assert stats.cliffs_delta([5, 6], [1, 2]) == 1.0
    assert math.isnan(stats.cliffs_delta([], [1]))


def test_bootstrap_is_seeded_and_covers_the_truth() -> None:
    values = np.random.default_rng(42).normal(100.0, 10.0, size=200)
    first = stats.bootstrap_median(values, seed=7)
    again = stats.bootstrap_median(values, seed=7)
    assert first == again  # deterministic with a seed
    assert first.lo < 100.0 < first.hi  # the population median
    assert first.lo <= first.value <= first.hi
    assert first.n == 200
    p90 = stats.bootstrap_percentile(values, 90)
    assert p90.lo < 100.0 + 10.0 * 1.2816 < p90.hi  # the population's 90th percentile


def test_bootstrap_small_samples_get_no_interval() -> None:
    one = stats.bootstrap_median([42.0])
    assert one.value == 42.0 and not one.has_interval and one.note == stats.N_TOO_SMALL  # not zero-width
    empty = stats.bootstrap_median([math.nan])
    assert empty.n == 0 and math.isnan(empty.value)
    four = stats.bootstrap_median([10.0, 20.0, 30.0, 40.0])
    assert four.value == 25.0 and four.note == stats.N_TOO_SMALL
    five = stats.bootstrap_median([10.0, 20.0, 30.0, 40.0, 55.0])
    assert five.has_interval and five.lo <= 30.0 <= five.hi
    # quantiles need more: p90 from 20 trials, p95 from 40
    values = np.random.default_rng(1).lognormal(7.0, 0.5, size=39)
    assert not stats.bootstrap_percentile(values[:19], 90).has_interval
    assert stats.bootstrap_percentile(values[:20], 90).has_interval
    assert not stats.bootstrap_percentile(values, 95).has_interval
    assert stats.bootstrap_percentile(np.append(values, 900.0), 95).has_interval
    assert stats.bootstrap_median([5.0] * 8).note == "all values equal"


def test_difference_of_medians() -> None:
    const = stats.bootstrap_median_difference([10] * 5, [4] * 5)
    assert (const.value, const.lo, const.hi) == (6.0, 6.0, 6.0)
    shifted = stats.bootstrap_median_difference(np.arange(50.0) + 100, np.arange(50.0))
    assert shifted.value == 100.0 and shifted.lo <= 100.0 <= shifted.hi
    small = stats.bootstrap_median_difference([1, 2, 3], [4, 5])
    assert small.value == -2.5 and small.note == stats.N_TOO_SMALL
    assert stats.bootstrap_median_difference(np.arange(8.0), np.arange(6.0), seed=3) == \
        stats.bootstrap_median_difference(np.arange(8.0), np.arange(6.0), seed=3)


def test_cliffs_delta_interval() -> None:
    est = stats.bootstrap_cliffs_delta([1, 2, 3, 4, 5], [7, 8, 9, 10, 11])
    assert (est.value, est.lo, est.hi) == (-1.0, -1.0, -1.0)
    mixed = stats.bootstrap_cliffs_delta([1, 2, 3, 5, 8, 9], [2, 4, 6, 7, 10, math.inf])
    assert mixed.lo <= mixed.value <= mixed.hi


def test_permutation_test_by_hand() -> None:
    # 20 ways to split 1..6 into 3 + 3. The two-sided p of scipy.stats.permutation_test is twice
    # the smaller one-sided p: a difference of medians <= -3 needs A = {1,2,3} or {1,2,4}: 2 of 20
    assert stats.permutation_p_median_difference([1, 2, 3], [4, 5, 6]) == pytest.approx(2 * 2 / 20)
    assert stats.permutation_floor(3, 3) == pytest.approx(0.2)
    assert stats.permutation_p_median_difference([1], [2]) == 1.0
    assert stats.permutation_p_median_difference([5, 5], [5, 5]) == 1.0
    far = stats.permutation_p_median_difference(np.arange(30.0), np.arange(30.0) + 100, seed=1)
    assert far < 0.001 and far == stats.permutation_p_median_difference(np.arange(30.0), np.arange(30.0) + 100,
                                                                        seed=1)
    assert math.isnan(stats.permutation_p_median_difference([], [1.0]))


def test_power_estimate() -> None:
    rng = np.random.default_rng(5)
    fast, slow = rng.lognormal(7.0, 0.3, 5), rng.lognormal(7.6, 0.3, 5)
    n = stats.repetitions_for_power(fast, slow)
    assert n is not None and 3 <= n <= 10  # a large, clean difference needs few trials
    close = stats.repetitions_for_power(rng.lognormal(7.0, 0.6, 5), rng.lognormal(7.1, 0.6, 5))
    assert close is None or close > n  # a small one needs many more (or more than we simulate)
    assert stats.repetitions_for_power([1.0, 2.0], [1.0, 2.0]) is None
