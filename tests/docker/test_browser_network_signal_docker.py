"""The browser page's network signal on the Docker runtime: the phone of
tests/browsers/test_network_signal.py as a headless Chromium or Firefox in its container (the
browser agent's netlink watcher runs in the container's namespace), policy on-disconnected: after
the standby Wi-Fi -> LTE handover the page re-opens its signaling socket at the network event,
not after its ack timeout, and the ICE decision stays the policy's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.browsers.conftest import no_leftovers  # noqa: F401  (fixture: browsers and profiles gone)
from tests.browsers.test_network_signal import check_trials, experiment
from tests.docker.conftest import DOCKER
from tests.docker.test_runtime_e2e import _run

pytestmark = [*DOCKER, pytest.mark.usefixtures("no_leftovers")]


@pytest.mark.parametrize("kind", ["chromium", "firefox"])
def test_a_standby_handover_reaches_the_page_in_a_container(kind: str, tmp_path: Path) -> None:
    spec = tmp_path / "exp.toml"
    spec.write_text(experiment(kind, policies='"on-disconnected"'))
    out = tmp_path / "run"
    trials = _run(spec, "docker", out)
    assert trials["runtime"].tolist() == ["docker"]
    check_trials(trials, pd.read_parquet(out / "events.parquet"), kind)
