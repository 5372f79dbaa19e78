"""Which namespaces `clean` picks: one scope, or (scope unset) every scope. No real namespace is touched."""

from __future__ import annotations

import pytest

from lab.net import cleanup


@pytest.fixture
def fake_lab(monkeypatch, tmp_path):
    names = ["icelab-t1-a-alice", "icelab-t1-a-nat", "icelab-t2-b-bob", "icelab-plain-relay", "docker-other", "myns"]
    removed: list[str] = []
    monkeypatch.setattr(cleanup.netns, "list_names", lambda: list(names))
    monkeypatch.setattr(cleanup.netns, "pids_in", lambda selected: {n: [] for n in selected})
    monkeypatch.setattr(cleanup.build, "teardown", lambda selected: removed.extend(selected))
    monkeypatch.setenv("ICELAB_STATE_DIR", str(tmp_path))
    return removed


def test_clean_one_scope(fake_lab, monkeypatch) -> None:
    monkeypatch.setenv("ICELAB_SCOPE", "t1")
    report = cleanup.clean("t1")
    assert fake_lab == ["icelab-t1-a-alice", "icelab-t1-a-nat"] == report.namespaces


def test_clean_without_scope_takes_every_scope_and_nothing_else(fake_lab, monkeypatch) -> None:
    monkeypatch.delenv("ICELAB_SCOPE", raising=False)
    cleanup.clean(None)
    assert fake_lab == ["icelab-t1-a-alice", "icelab-t1-a-nat", "icelab-t2-b-bob", "icelab-plain-relay"]
