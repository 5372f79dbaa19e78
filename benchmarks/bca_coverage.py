"""How often the report's 95 % intervals cover the truth, on simulated lognormal media gaps.

    .venv/bin/python benchmarks/bca_coverage.py [--reps 400] [--resamples 999] [--sizes 5 10 20 40]

For each sample size n and quantile (median, p90, p95): draw `reps` samples of n gaps from a
lognormal (median 1 s, sigma 0.5: a spread like the lab's handover gaps), compute the interval of
lab.analysis.stats (scipy's BCa, ignoring the MIN_N limit) and the old hand-written percentile
bootstrap, and count how often each contains the population quantile. The limit is the nominal
95 %; the ratio is coverage / 0.95. These figures are why lab.analysis.stats shows a quantile's
interval only from MIN_N trials. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats as sps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.analysis import stats  # noqa: E402

MU, SIGMA = math.log(1000.0), 0.5
NOMINAL = 0.95


def percentile_bootstrap(x: np.ndarray, q: float, resamples: int, rng: np.random.Generator) -> tuple[float, float]:
    """The interval the lab printed before: percentiles of the resampled statistic."""
    resampled = np.percentile(x[rng.integers(0, len(x), size=(resamples, len(x)))], q, axis=1)
    lo, hi = np.percentile(resampled, [2.5, 97.5])
    return float(lo), float(hi)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--resamples", type=int, default=999)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20, 40])
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    started = time.perf_counter()
    print(f"lognormal gaps (median {math.exp(MU):.0f} ms, sigma {SIGMA}); {args.reps} samples per cell, "
          f"{args.resamples} resamples; limit = nominal {NOMINAL:.0%}")
    print(f"{'n':>4} {'quantile':>8} {'BCa cover':>10} {'ratio':>6} {'undefined':>9} {'old pct cover':>13} "
          f"{'shown by the lab':>17}")
    for n in args.sizes:
        for q in (50.0, 90.0, 95.0):
            truth = float(sps.lognorm.ppf(q / 100.0, SIGMA, scale=math.exp(MU)))
            covered = undefined = old = 0
            for rep in range(args.reps):
                x = rng.lognormal(MU, SIGMA, n)
                est = stats.bootstrap_percentile(x, q, n_resamples=args.resamples, seed=rep, require_n=2)
                if not est.has_interval:
                    undefined += 1
                elif est.lo <= truth <= est.hi:
                    covered += 1
                lo, hi = percentile_bootstrap(x, q, args.resamples, rng)
                old += lo <= truth <= hi
            coverage = covered / args.reps
            shown = "yes" if n >= stats.min_n(q) else "no (n too small)"
            print(f"{n:>4} {'p' + str(int(q)):>8} {coverage:>10.1%} {coverage / NOMINAL:>6.2f} {undefined:>9} "
                  f"{old / args.reps:>13.1%} {shown:>17}")
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
