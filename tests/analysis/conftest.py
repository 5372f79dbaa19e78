"""Shared fixtures of the analysis tests: the sample run kept in the repo (a real `icelab run`
of notebooks/sample_experiment.toml; ICELAB_TEST_RUN points the tests at another run folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_RUN = REPO / "notebooks" / "sample_run"


@pytest.fixture(scope="session")
def sample_run() -> Path:
    path = Path(os.environ.get("ICELAB_TEST_RUN") or SAMPLE_RUN)
    assert (path / "run.json").is_file(), f"the sample run is missing: {path}"
    return path
