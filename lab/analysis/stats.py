"""Statistics fit for few trials, on scipy.stats: percentiles, BCa bootstrap intervals shown only
where the sample can support them, Wilson intervals for proportions, effect sizes, permutation
tests and a power estimate.

Conventions (the report states them too):
- Percentiles use numpy's default (linear interpolation between order statistics, "type 7").
- Intervals: scipy.stats.bootstrap with the BCa method (bias-corrected and accelerated),
  `N_RESAMPLES` resamples (2000 unless told otherwise), numpy's generator seeded with `SEED` (0),
  so the same data always give the same interval.
- An interval for a quantile is given only when the sample is large enough for it to cover:
  MIN_N (5 for the median, 20 for p90, 40 for p95; benchmarks/bca_coverage.py measures why).
  Below that, or when the data are all equal (nothing to resample), the Estimate has NaN bounds
  and `note` says why ("n too small").
- Proportions (recovered %): the Wilson score interval (scipy.stats.binomtest), which stays
  sensible at 0 % and 100 %.
- Effect sizes between a variant X and a baseline Y: the difference of medians X - Y (BCa, X and
  Y resampled independently); Cliff's delta d = P(X > Y) - P(X < Y) over all pairs; the
  probability of superiority P(X < Y) + P(X = Y) / 2.
- Whether a difference of medians could be chance: scipy.stats.permutation_test, two-sided,
  exact (every relabelling) when there are at most EXACT_LIMIT of them.
- Power: how many trials per policy a Mann-Whitney test (alpha 0.05) would need to detect the
  observed difference 80 % of the time, simulated by resampling the observed trials.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

N_RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95
Z_95 = 1.959963984540054
MIN_N = {50.0: 5, 90.0: 20, 95.0: 40}
MIN_N_DIFFERENCE = 5  # per group, for an interval of a difference
EXACT_LIMIT = 20000
N_TOO_SMALL = "n too small"
POWER = 0.8
ALPHA = 0.05
POWER_SIZES = (3, 5, 8, 10, 15, 20, 30, 40, 60, 80, 100)
POWER_SIMULATIONS = 400


@dataclass(frozen=True)
class Estimate:
    value: float
    lo: float
    hi: float
    n: int
    note: str | None = None

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)


def clean(values: object) -> np.ndarray:
    """Finite float values only (NaN and missing dropped)."""
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def percentile(values: object, q: float) -> float:
    x = clean(values)
    return float(np.percentile(x, q)) if len(x) else math.nan


def median(values: object) -> float:
    return percentile(values, 50)


def min_n(q: float) -> int:
    """The smallest sample given an interval for the q-th percentile."""
    for level, n in sorted(MIN_N.items(), reverse=True):
        if q >= level:
            return n
    return MIN_N[50.0]


def _bca(samples: tuple[np.ndarray, ...], statistic: object, n_resamples: int, seed: int,
         confidence: float) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate samples: NaN bounds, handled by the caller
        result = sps.bootstrap(samples, statistic, n_resamples=n_resamples, confidence_level=confidence,
                               method="BCa", vectorized=True, random_state=np.random.default_rng(seed))
    lo, hi = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return lo, hi


def bootstrap_percentile(values: object, q: float = 50, *, n_resamples: int = N_RESAMPLES,
                         seed: int = SEED, confidence: float = CONFIDENCE,
                         require_n: int | None = None) -> Estimate:
    """The q-th percentile with its BCa interval, or NaN bounds and a note when n is too small."""
    x = clean(values)
    n = len(x)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    point = float(np.percentile(x, q))
    needed = min_n(q) if require_n is None else require_n
    if n < max(needed, 2):
        return Estimate(point, math.nan, math.nan, n, N_TOO_SMALL)
    if np.all(x == x[0]):
        return Estimate(point, math.nan, math.nan, n, "all values equal")

    def statistic(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.percentile(sample, q, axis=axis)

    lo, hi = _bca((x,), statistic, n_resamples, seed, confidence)
    note = None if math.isfinite(lo) and math.isfinite(hi) else "BCa undefined for these data"
    return Estimate(point, lo, hi, n, note)


def bootstrap_median(values: object, *, n_resamples: int = N_RESAMPLES, seed: int = SEED,
                     confidence: float = CONFIDENCE, require_n: int | None = None) -> Estimate:
    return bootstrap_percentile(values, 50, n_resamples=n_resamples, seed=seed, confidence=confidence,
                                require_n=require_n)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion (as fractions 0..1)."""
    if n == 0:
        return math.nan, math.nan
    level = 2 * sps.norm.cdf(z) - 1
    ci = sps.binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return max(0.0, float(ci.low)), min(1.0, float(ci.high))


def _pairwise(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(P(x > y), P(x < y), P(x == y)) over all pairs; inf is allowed (it ties with inf)."""
    greater = (x[:, None] > y[None, :]).mean()
    less = (x[:, None] < y[None, :]).mean()
    return float(greater), float(less), float(1.0 - greater - less)


def _finite_or_inf(values: object) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    return a[~np.isnan(a)]


def cliffs_delta(x: object, y: object) -> float:
    """P(X > Y) - P(X < Y); values may be +inf (e.g. a trial that never recovered)."""
    a, b = _finite_or_inf(x), _finite_or_inf(y)
    if not len(a) or not len(b):
        return math.nan
    greater, less, _ = _pairwise(a, b)
    return greater - less


def probability_smaller(x: object, y: object) -> float:
    """P(X < Y) + P(X = Y) / 2: the chance a random X is smaller (faster) than a random Y."""
    a, b = _finite_or_inf(x), _finite_or_inf(y)
    if not len(a) or not len(b):
        return math.nan
    _, less, ties = _pairwise(a, b)
    return less + ties / 2.0


def _two_sample(a: np.ndarray, b: np.ndarray, point: float, statistic: object, n_resamples: int,
                seed: int, confidence: float) -> Estimate:
    n = min(len(a), len(b))
    if n < MIN_N_DIFFERENCE:
        return Estimate(point, math.nan, math.nan, n, N_TOO_SMALL)
    if np.all(np.concatenate([a, b]) == a[0]) or (np.all(a == a[0]) and np.all(b == b[0])):
        return Estimate(point, point, point, n, "no spread")
    lo, hi = _bca((a, b), statistic, n_resamples, seed, confidence)
    note = None if math.isfinite(lo) and math.isfinite(hi) else "BCa undefined for these data"
    return Estimate(point, lo, hi, n, note)


def _median_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(a, axis=axis) - np.median(b, axis=axis)


def bootstrap_median_difference(x: object, y: object, *, n_resamples: int = N_RESAMPLES,
                                seed: int = SEED, confidence: float = CONFIDENCE) -> Estimate:
    """median(X) - median(Y) (finite values), BCa with X and Y resampled independently."""
    a, b = clean(x), clean(y)
    if not len(a) or not len(b):
        return Estimate(math.nan, math.nan, math.nan, min(len(a), len(b)))
    point = float(np.median(a) - np.median(b))
    return _two_sample(a, b, point, _median_difference, n_resamples, seed, confidence)


def _delta(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    a = np.moveaxis(a, axis, -1)
    b = np.moveaxis(b, axis, -1)
    greater = (a[..., :, None] > b[..., None, :]).mean(axis=(-2, -1))
    less = (a[..., :, None] < b[..., None, :]).mean(axis=(-2, -1))
    return greater - less


def bootstrap_cliffs_delta(x: object, y: object, *, n_resamples: int = N_RESAMPLES,
                           seed: int = SEED, confidence: float = CONFIDENCE) -> Estimate:
    """Cliff's delta with a BCa interval (values may be +inf)."""
    a, b = _finite_or_inf(x), _finite_or_inf(y)
    if not len(a) or not len(b):
        return Estimate(math.nan, math.nan, math.nan, min(len(a), len(b)))
    point = cliffs_delta(a, b)
    if abs(point) == 1.0:  # complete separation: every resample agrees
        n = min(len(a), len(b))
        if n < MIN_N_DIFFERENCE:
            return Estimate(point, math.nan, math.nan, n, N_TOO_SMALL)
        return Estimate(point, point, point, n)
    return _two_sample(a, b, point, _delta, n_resamples, seed, confidence)


def permutation_p_median_difference(x: object, y: object, *, n_permutations: int = 9999,
                                    seed: int = SEED) -> float:
    """Two-sided permutation test of median(X) - median(Y) (finite values only), with
    scipy.stats.permutation_test: exact when there are at most EXACT_LIMIT relabellings."""
    a, b = clean(x), clean(y)
    if not len(a) or not len(b):
        return math.nan
    if min(len(a), len(b)) < 2:  # scipy needs two per group; every relabelling by hand
        pooled, k = np.concatenate([a, b]), len(a)
        observed = float(_median_difference(a, b))
        diffs = np.array([float(np.median(pooled[list(c)]) - np.median(np.delete(pooled, list(c))))
                          for c in itertools.combinations(range(len(pooled)), k)])
        one_sided = min(float(np.mean(diffs <= observed + 1e-9)), float(np.mean(diffs >= observed - 1e-9)))
        return float(min(1.0, 2 * one_sided))
    exact = math.comb(len(a) + len(b), len(a)) <= EXACT_LIMIT
    result = sps.permutation_test((a, b), _median_difference, permutation_type="independent",
                                  alternative="two-sided", vectorized=True,
                                  n_resamples=np.inf if exact else n_permutations,
                                  random_state=np.random.default_rng(seed))
    return float(min(1.0, result.pvalue))


def permutation_floor(n_x: int, n_y: int, seed: int = SEED) -> float:
    """The smallest p the permutation test can give with these group sizes."""
    if n_x < 1 or n_y < 1:
        return math.nan
    return permutation_p_median_difference(np.arange(n_x), np.arange(n_x, n_x + n_y), seed=seed)


def repetitions_for_power(x: object, y: object, *, power: float = POWER, alpha: float = ALPHA,
                          seed: int = SEED, simulations: int = POWER_SIMULATIONS) -> int | None:
    """Trials per group a two-sided Mann-Whitney test would need to detect the difference between
    X and Y with the given power, simulated by drawing from the observed trials (None: not within
    POWER_SIZES, or no difference to detect)."""
    a, b = clean(x), clean(y)
    if len(a) < 2 or len(b) < 2 or np.median(a) == np.median(b):
        return None
    rng = np.random.default_rng(seed)
    for n in POWER_SIZES:
        xs = a[rng.integers(0, len(a), size=(simulations, n))]
        ys = b[rng.integers(0, len(b), size=(simulations, n))]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            p = sps.mannwhitneyu(xs, ys, axis=1, alternative="two-sided").pvalue
        if np.mean(np.nan_to_num(p, nan=1.0) < alpha) >= power:
            return n
    return None
