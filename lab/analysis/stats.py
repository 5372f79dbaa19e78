"""Small, explicit statistics for few trials: percentiles, percentile-bootstrap confidence
intervals, Wilson intervals for proportions, and effect sizes between two samples.

Conventions (the report states them too):
- Percentiles use numpy's default (linear interpolation between order statistics, "type 7").
- Bootstrap: the percentile bootstrap, `N_RESAMPLES` resamples with replacement (2000 unless
  told otherwise), numpy's PCG64 generator seeded with `SEED` (0), so the same data always give
  the same interval. The 95 % interval is the 2.5th and 97.5th percentile of the resampled
  statistic. With one observation the interval is that observation; with none it is NaN.
- Proportions (recovered %): the Wilson score interval, which stays sensible at 0 % and 100 %,
  where a bootstrap interval collapses to a point.
- Effect sizes between a variant X and a baseline Y: the difference of medians X - Y with a
  bootstrap interval (X and Y resampled independently); Cliff's delta
  d = P(X > Y) - P(X < Y) over all pairs (negative: X's values tend to be smaller, i.e. X is
  faster when the values are gaps); and the probability of superiority
  P(X < Y) + P(X = Y) / 2 (the chance that a random X trial is faster than a random Y trial).
- Whether a difference of medians could be chance: a two-sided permutation test, exact (every
  relabelling) for small samples. With 3 trials against 3 its smallest possible p is 0.2.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95
Z_95 = 1.959963984540054

Statistic = Callable[[np.ndarray], np.ndarray]  # maps (B, n) resamples to (B,) values


@dataclass(frozen=True)
class Estimate:
    value: float
    lo: float
    hi: float
    n: int

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi


def clean(values: object) -> np.ndarray:
    """Finite float values only (NaN and missing dropped)."""
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def percentile(values: object, q: float) -> float:
    x = clean(values)
    return float(np.percentile(x, q)) if len(x) else math.nan


def median(values: object) -> float:
    return percentile(values, 50)


def _statistic(q: float) -> Statistic:
    return lambda resamples: np.percentile(resamples, q, axis=1)


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(samples, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def bootstrap_percentile(values: object, q: float = 50, *, n_resamples: int = N_RESAMPLES,
                         seed: int = SEED, confidence: float = CONFIDENCE) -> Estimate:
    """The q-th percentile of the values with its percentile-bootstrap interval."""
    x = clean(values)
    n = len(x)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    point = float(np.percentile(x, q))
    if n == 1:
        return Estimate(point, point, point, 1)
    rng = np.random.default_rng(seed)
    resamples = x[rng.integers(0, n, size=(n_resamples, n))]
    lo, hi = _interval(_statistic(q)(resamples), confidence)
    return Estimate(point, lo, hi, n)


def bootstrap_median(values: object, *, n_resamples: int = N_RESAMPLES, seed: int = SEED,
                     confidence: float = CONFIDENCE) -> Estimate:
    return bootstrap_percentile(values, 50, n_resamples=n_resamples, seed=seed, confidence=confidence)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion (as fractions 0..1)."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _pairwise(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(P(x > y), P(x < y), P(x == y)) over all pairs; inf is allowed (it ties with inf)."""
    greater = (x[:, None] > y[None, :]).mean()
    less = (x[:, None] < y[None, :]).mean()
    return float(greater), float(less), float(1.0 - greater - less)


def cliffs_delta(x: object, y: object) -> float:
    """P(X > Y) - P(X < Y); values may be +inf (e.g. a trial that never recovered)."""
    a = np.asarray(x, dtype=float).ravel()
    b = np.asarray(y, dtype=float).ravel()
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        return math.nan
    greater, less, _ = _pairwise(a, b)
    return greater - less


def probability_smaller(x: object, y: object) -> float:
    """P(X < Y) + P(X = Y) / 2: the chance a random X is smaller (faster) than a random Y."""
    a = np.asarray(x, dtype=float).ravel()
    b = np.asarray(y, dtype=float).ravel()
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        return math.nan
    _, less, ties = _pairwise(a, b)
    return less + ties / 2.0


def bootstrap_median_difference(x: object, y: object, *, n_resamples: int = N_RESAMPLES,
                                seed: int = SEED, confidence: float = CONFIDENCE) -> Estimate:
    """median(X) - median(Y), X and Y resampled independently (finite values only)."""
    a, b = clean(x), clean(y)
    if not len(a) or not len(b):
        return Estimate(math.nan, math.nan, math.nan, min(len(a), len(b)))
    point = float(np.median(a) - np.median(b))
    rng = np.random.default_rng(seed)
    ra = np.median(a[rng.integers(0, len(a), size=(n_resamples, len(a)))], axis=1)
    rb = np.median(b[rng.integers(0, len(b), size=(n_resamples, len(b)))], axis=1)
    lo, hi = _interval(ra - rb, confidence)
    return Estimate(point, lo, hi, min(len(a), len(b)))


def bootstrap_cliffs_delta(x: object, y: object, *, n_resamples: int = N_RESAMPLES,
                           seed: int = SEED, confidence: float = CONFIDENCE) -> Estimate:
    """Cliff's delta with a percentile-bootstrap interval (values may be +inf)."""
    a = np.asarray(x, dtype=float).ravel()
    b = np.asarray(y, dtype=float).ravel()
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        return Estimate(math.nan, math.nan, math.nan, min(len(a), len(b)))
    point = cliffs_delta(a, b)
    rng = np.random.default_rng(seed)
    ra = a[rng.integers(0, len(a), size=(n_resamples, len(a)))]
    rb = b[rng.integers(0, len(b), size=(n_resamples, len(b)))]
    greater = (ra[:, :, None] > rb[:, None, :]).mean(axis=(1, 2))
    less = (ra[:, :, None] < rb[:, None, :]).mean(axis=(1, 2))
    lo, hi = _interval(greater - less, confidence)
    return Estimate(point, lo, hi, min(len(a), len(b)))


EXACT_LIMIT = 20000


def permutation_p_median_difference(x: object, y: object, *, n_permutations: int = 10000,
                                    seed: int = SEED) -> float:
    """Two-sided permutation test of median(X) - median(Y) (finite values only): the share of
    relabellings of the pooled values whose |difference of medians| is at least the observed one.
    Exact (every split enumerated) when there are at most EXACT_LIMIT splits, else Monte Carlo
    with n_permutations seeded draws and the (k + 1) / (B + 1) estimate."""
    a, b = clean(x), clean(y)
    if not len(a) or not len(b):
        return math.nan
    pooled = np.concatenate([a, b])
    observed = abs(float(np.median(a) - np.median(b))) - 1e-9  # ties with the observed count as extreme
    n, k = len(pooled), len(a)
    if math.comb(n, k) <= EXACT_LIMIT:
        splits = np.array(list(itertools.combinations(range(n), k)))
        mask = np.zeros((len(splits), n), dtype=bool)
        mask[np.arange(len(splits))[:, None], splits] = True
        values = np.broadcast_to(pooled, mask.shape)
        med_a = np.median(values[mask].reshape(len(splits), k), axis=1)
        med_b = np.median(values[~mask].reshape(len(splits), n - k), axis=1)
        return float(np.mean(np.abs(med_a - med_b) >= observed))
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((n_permutations, n)), axis=1)
    shuffled = pooled[order]
    diffs = np.abs(np.median(shuffled[:, :k], axis=1) - np.median(shuffled[:, k:], axis=1))
    return float((np.sum(diffs >= observed) + 1) / (n_permutations + 1))
