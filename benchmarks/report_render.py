"""Time to render the HTML report of a run (load, statistics, figures, HTML), and its size.

    .venv/bin/python benchmarks/report_render.py [RUN_DIR ...] [--repeat 10] [--resamples 2000]

Default run: notebooks/sample_run (16 real trials). Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.analysis import load_runs, summary_table  # noqa: E402
from lab.analysis.report import build_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, default=[ROOT / "notebooks" / "sample_run"])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()

    runs = load_runs(args.runs)
    load_s, summary_s, render_s = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        runs = load_runs(args.runs)
        load_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        summary_table(runs.trials, n_resamples=args.resamples)
        summary_s.append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory() as tmp:
            result = build_report(args.runs, Path(tmp) / "report.html", n_resamples=args.resamples)
            render_s.append(result.seconds)
            size = result.path.stat().st_size
            figures = len(result.figures)

    def line(name: str, values: list[float]) -> str:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return f"{name:<28} median {statistics.median(values) * 1000:7.0f} ms   p95 {p95 * 1000:7.0f} ms"

    print(f"runs: {', '.join(str(p) for p in args.runs)}: {len(runs.trials)} trials, {len(runs.events)} events; "
          f"{args.repeat} repetitions, {args.resamples} bootstrap resamples")
    print(line("load run folder(s)", load_s))
    print(line("summary table (bootstrap)", summary_s))
    print(line("whole report", render_s))
    print(f"report.html: {size / 1e6:.2f} MB with {figures} figures embedded")


if __name__ == "__main__":
    main()
