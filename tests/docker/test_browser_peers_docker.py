"""A browser peer on the Docker runtime: test_runtime_e2e's blackhole scenario with bob as a
headless Chromium or Firefox ESR in his container (the peer image carries Debian's chromium and
firefox-esr; Chromium is driven over CDP, Firefox over WebDriver BiDi, from the agent in that
container). The aiortc side restarts on 'disconnected'; the restart reaches the browser, which
answers with new ICE credentials; media resumes at both ends; no browser, profile or container is
left."""

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

# kind -> (seed, seconds to connect: Firefox starts slower in a container)
BROWSERS = {"chromium": (5, 60), "firefox": (7, 90)}


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=getattr(pytest.mark, kind)) for kind in BROWSERS])
def test_browser_peer_in_a_container_recovers(kind: str, tmp_path: Path) -> None:
    seed, connect_s = BROWSERS[kind]
    experiment = short_blackhole(f"docker_{kind}", seed=seed, answerer_kind=kind, connect_s=connect_s)
    assert f'answerer_kind = "{kind}"' in experiment
    spec = tmp_path / f"docker_{kind}.toml"
    spec.write_text(experiment)
    out = tmp_path / "run"
    trials = _run(spec, "docker", out)

    row = trials.iloc[0]
    assert row["runtime"] == "docker" and row["peer_kind"] == f"aiortc-{kind}"
    assert row["status"] == "ok" and bool(row["recovered"]), row.get("failure_reason")
    assert row["media_gap_ms_at_offerer"] > 0 and row["media_gap_ms_at_answerer"] > 0

    events = pd.read_parquet(out / "events.parquet")
    ready = events[(events["kind"] == "agent_ready") & (events["peer"] == "answerer")]
    detail = json.loads(ready["detail"].iloc[0])
    assert detail["peer_kind"] == kind and detail["detection"] == f"{kind}-builtin", detail
    t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())
    after = events[events["t_monotonic"] >= t_fault]
    for role in ("offerer", "answerer"):
        assert len(after[(after["peer"] == role) & (after["kind"] == "media_rx")]) > 25, role
    answers = events[(events["peer"] == "answerer") & (events["kind"] == "answer_sent")]
    ufrags = [json.loads(answer)["ice_ufrag"] for answer in answers["detail"]]
    assert len(set(ufrags)) >= 2, ufrags

    trial_dir = out / "trials" / row["trial_id"]
    containers = json.loads((trial_dir / "containers.json").read_text())
    assert {"alice", "bob"} <= set(containers)
    assert (trial_dir / "agent-answerer.log").stat().st_size > 0
    assert not lab_containers(naming.scope()), "a lab container outlived its trial"
