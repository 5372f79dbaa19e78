"""The report splits the media-gap figure by host when a run's trials ran on several hosts.

The sample run (one host) is copied and half its trials relabelled as run on a second host:
this checks the rendering, not a measurement (test_local_cluster runs real cluster trials)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from lab.analysis import plots
from lab.analysis.report import build_report

SAMPLE_RUN = Path(__file__).resolve().parents[2] / "notebooks" / "sample_run"


def two_host_copy(tmp_path: Path) -> Path:
    run = tmp_path / "two_hosts"
    shutil.copytree(SAMPLE_RUN, run)
    for name in ("trials.parquet", "trials.csv", "events.parquet"):
        (run / name).unlink()
    for i, result in enumerate(sorted(run.glob("trials/*/result.json"))):
        row = json.loads(result.read_text())
        row.update(host="labhost-b" if i % 2 else "labhost-a", kernel="6.1.0", delay_backend="netem")
        result.write_text(json.dumps(row))
    return run


def test_gap_ecdf_draws_one_curve_per_policy_and_host() -> None:
    trials = pd.read_parquet(SAMPLE_RUN / "trials.parquet")
    trials["host"] = ["a" if r % 2 else "b" for r in trials["repetition"]]
    labels = [line.get_label() for ax in plots.gap_ecdf(trials, by="host").axes for line in ax.get_lines()]
    policies = set(trials["policy"])
    assert {label.split(" (")[0] for label in labels} >= {f"{p} @ {h}" for p in policies for h in "ab"}


def test_report_splits_the_gap_figure_by_host(tmp_path: Path) -> None:
    run = two_host_copy(tmp_path)
    result = build_report([run], n_resamples=100)
    assert any(p.name.endswith("ecdf-by-host.png") for p in result.figures)
    assert "per policy and host" in result.path.read_text()
    plain = build_report([SAMPLE_RUN], tmp_path / "plain.html", n_resamples=100)
    assert not any("by-host" in p.name for p in plain.figures)  # one host: no split figure
    by_worker = build_report([SAMPLE_RUN], tmp_path / "w.html", n_resamples=100, split_by="worker")
    assert any(p.name.endswith("ecdf-by-worker.png") for p in by_worker.figures)
