"""A scoped `icelab clean` of the scope a cluster worker started in also removes what the worker's
nested scope left: its browsers (found by their profile marker) and its state folder.

The browser here is a `sleep` carrying the browser marker in its environment: the marker is the
only thing clean reads to find a browser, and a real browser would add a minute to the test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lab import naming
from lab.cluster.task import worker_scope
from lab.runtime.chromium.browser import MARKER


def test_scope_family() -> None:
    nested = worker_scope("w1", "tcp://127.0.0.1:4000")
    assert naming.in_scope(nested, "w1") and naming.in_scope("w1", "w1")
    assert not naming.in_scope("w10", "w1") and not naming.in_scope("w1", nested)


def test_clean_of_the_outer_scope_kills_a_nested_scopes_browser(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from lab.net.cleanup import clean as clean_lab
    from lab.runtime.cleanup import clean as clean_browsers

    monkeypatch.setenv("ICELAB_STATE_DIR", str(tmp_path))
    outer = naming.scope()
    nested = worker_scope(outer, "w9")
    profile = tmp_path / nested / "chromium" / "trial-offerer"
    profile.mkdir(parents=True)
    sibling_profile = tmp_path / f"{outer}x" / "chromium" / "trial-offerer"  # another scope: kept
    sibling_profile.mkdir(parents=True)
    browser = subprocess.Popen(["sleep", "60"], env={**os.environ, MARKER: str(profile)})
    sibling = subprocess.Popen(["sleep", "60"], env={**os.environ, MARKER: str(sibling_profile)})
    try:
        clean_browsers(outer)  # what `icelab clean` runs, in its order
        clean_lab(outer)
        assert browser.wait(timeout=5) == -9
        assert sibling.poll() is None
        assert not (tmp_path / nested).exists() and sibling_profile.exists()
    finally:
        for process in (browser, sibling):
            process.kill()
            process.wait()
