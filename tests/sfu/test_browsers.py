"""Browser peers through Janus (the shared page's janus.js): Chromium and Firefox each publish
and subscribe. The phone (wlan0 -> wwan0 handover) is the browser whose leg breaks; its own
policy restarts its leg (publisher: iceRestart offer in `configure`; subscriber: `configure` with
restart=true, Janus's new offer answered), and media resumes at the subscriber."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lab import run_experiment
from lab.runtime.chromium.browser import CHROMIUM
from lab.runtime.firefox.browser import firefox_binary
from tests.sfu.conftest import needs_janus
from tests.sfu.test_calls import HANDOVER, sfu_experiment


def _missing(kind: str) -> bool:
    if kind == "chromium":
        return not Path(CHROMIUM).exists()
    if kind == "firefox":
        return firefox_binary() is None
    return False


pytestmark = [needs_janus, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("turnserver") is None, reason="needs coturn")]

# (publisher host, publisher kind, subscriber host, subscriber kind): the phone is the one whose leg breaks
CASES = [
    ("phone", "chromium", "peer", "aiortc"),     # Chromium publishes, restarts the publisher leg
    ("peer", "aiortc", "phone", "firefox"),      # Firefox subscribes, restarts the subscriber leg
    ("peer", "firefox", "phone", "chromium"),    # Firefox publishes, Chromium subscribes and restarts
]


@pytest.mark.parametrize("publisher,publisher_kind,subscriber,subscriber_kind", CASES,
                         ids=[f"{c[1]}-{c[3]}" for c in CASES])
def test_browser_leg_through_janus_restarts_and_recovers(tmp_path: Path, publisher: str, publisher_kind: str,
                                                         subscriber: str, subscriber_kind: str) -> None:
    for kind in (publisher_kind, subscriber_kind):
        if _missing(kind):
            pytest.skip(f"{kind} is not installed (scripts/setup-debian.sh)")
    experiment = sfu_experiment("sfu_browser", HANDOVER, ["on-network-change"])
    experiment = experiment.model_copy(update={
        "peers": experiment.peers.model_copy(update={"offerer": publisher, "answerer": subscriber,
                                                     "offerer_kind": publisher_kind, "answerer_kind": subscriber_kind}),
        # two browsers starting on a shared, loaded machine: room to come up (no time is asserted)
        "timeouts": experiment.timeouts.model_copy(update={"connect_s": 45.0, "trial_s": 120.0})})
    run = run_experiment(experiment, tmp_path / "run")
    row = run.trials.iloc[0].to_dict()
    events = run.events
    assert row["status"] == "ok", row.get("failure_reason")
    assert row["peer_kind"] == f"{publisher_kind}-{subscriber_kind}"
    assert row["recovered"], row
    role = "offerer" if publisher == "phone" else "answerer"  # the browser on the phone restarts its leg
    assert set(events.loc[events["kind"] == "restart", "peer"]) == {role}
    sent = "offer_sent" if role == "offerer" else "offer_received"
    offers = events[(events["peer"] == role) & (events["kind"] == sent)]
    ufrags = [json.loads(d)["ice_ufrag"] for d in offers["detail"]]
    assert len(ufrags) == 2 and ufrags[0] != ufrags[1]
    assert (events[(events["peer"] == "answerer")]["kind"] == "media_rx").any()
