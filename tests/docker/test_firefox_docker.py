"""A Firefox peer on the Docker runtime: test_runtime_e2e's blackhole scenario with bob as a
headless Firefox ESR in his container (the peer image carries Debian's firefox-esr), driven over
WebDriver BiDi from the agent in that container. The aiortc side restarts on 'disconnected';
media resumes at both ends; no browser, profile or container is left."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lab import naming
from lab.runtime.docker.containers import lab_containers
from tests.browsers.conftest import no_leftovers  # noqa: F401  (fixture: browsers and profiles gone)
from tests.docker.conftest import DOCKER
from tests.docker.test_runtime_e2e import _run
from tests.experiment.short_blackhole import short_blackhole

pytestmark = [*DOCKER, pytest.mark.usefixtures("no_leftovers")]

FIREFOX_EXPERIMENT = short_blackhole("docker_firefox", seed=7, answerer_kind="firefox", connect_s=90)


def test_firefox_peer_in_a_container_recovers(tmp_path: Path) -> None:
    assert 'answerer_kind = "firefox"' in FIREFOX_EXPERIMENT
    spec = tmp_path / "docker_firefox.toml"
    spec.write_text(FIREFOX_EXPERIMENT)
    out = tmp_path / "run"
    trials = _run(spec, "docker", out)

    row = trials.iloc[0]
    assert row["runtime"] == "docker" and row["peer_kind"] == "aiortc-firefox"
    assert row["status"] == "ok" and bool(row["recovered"]), row.get("failure_reason")
    assert row["media_gap_ms_at_offerer"] > 0 and row["media_gap_ms_at_answerer"] > 0

    events = pd.read_parquet(out / "events.parquet")
    ready = events[(events["kind"] == "agent_ready") & (events["peer"] == "answerer")]
    detail = json.loads(ready["detail"].iloc[0])
    assert detail["peer_kind"] == "firefox" and detail["detection"] == "firefox-builtin", detail
    t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())
    after = events[events["t_monotonic"] >= t_fault]
    for role in ("offerer", "answerer"):
        assert len(after[(after["peer"] == role) & (after["kind"] == "media_rx")]) > 25, role
    # The restart reached Firefox in its container: it answered with new ICE credentials.
    answers = events[(events["peer"] == "answerer") & (events["kind"] == "answer_sent")]
    ufrags = [json.loads(detail)["ice_ufrag"] for detail in answers["detail"]]
    assert len(set(ufrags)) >= 2, ufrags

    trial_dir = out / "trials" / row["trial_id"]
    containers = json.loads((trial_dir / "containers.json").read_text())
    assert {"alice", "bob"} <= set(containers)
    assert (trial_dir / "agent-answerer.log").stat().st_size > 0
    assert not lab_containers(naming.scope()), "a lab container outlived its trial"
