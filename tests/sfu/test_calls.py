"""Calls through Janus, real parts: aiortc agents in namespaces behind kernel NATs, coturn,
Janus 1.1 (VideoRoom) on the topology's sfu host. The offerer (phone) publishes, the answerer
(peer) subscribes; media is timed at the subscriber, so every gap is end to end through Janus."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lab import Experiment, run_experiment
from tests.sfu.conftest import REPO, TOPOLOGY, needs_janus

pytestmark = [needs_janus, pytest.mark.skipif(shutil.which("turnserver") is None, reason="needs coturn")]


def sfu_experiment(name: str, fault: dict[str, Any], policies: list[str], **sfu: Any) -> Experiment:
    return Experiment(
        name=name, topology=str(TOPOLOGY), seed=17, policies=policies,
        peers={"offerer": "phone", "answerer": "peer"}, media={"direction": "offerer-to-answerer"},
        ice={"consent_interval_s": 1.0, "disconnected_after_s": 2.0, "failed_after_s": 6.0},
        sfu=sfu, fault=fault, timeouts={"connect_s": 20, "recover_s": 20, "trial_s": 60})


def only_trial(experiment: Experiment, out: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    run = run_experiment(experiment, out)
    assert len(run.trials) == 1
    row = run.trials.iloc[0].to_dict()
    return row, run.events


HANDOVER = {"type": "handover", "host": "phone", "from_iface": "wlan0", "to_iface": "wwan0", "variant": "standby",
            "at_s": 2}


def test_publisher_handover_restarts_the_publisher_leg(tmp_path: Path) -> None:
    """The call through Janus completes; the phone's handover breaks the publisher leg, its
    policy restarts it (an iceRestart offer in `configure`), media resumes at the subscriber."""
    row, events = only_trial(sfu_experiment("sfu_pub", HANDOVER, ["on-network-change"]), tmp_path / "run")
    assert row["status"] == "ok", row.get("failure_reason")
    assert row["path"] == "sfu" and row["restart_can_recover"]
    assert row["recovered"], row
    kinds = events.groupby("peer")["kind"].apply(set)
    assert {"sfu_session", "offer_sent", "answer_received", "restart"} <= kinds["offerer"]
    # the phone's socket to Janus left from the Wi-Fi address: it moved at the network event
    reconnects = events[(events["peer"] == "offerer") & (events["kind"] == "signaling_reconnect")]
    assert any(json.loads(d).get("reason") == "network-change" for d in reconnects["detail"]), reconnects
    assert "media_rx" in kinds["answerer"] and "media_rx" not in kinds["offerer"]  # the subscriber receives
    restarts = events[(events["kind"] == "restart")]
    assert set(restarts["peer"]) == {"offerer"}
    # a second offer on the publisher leg with new ICE credentials, answered by Janus
    offers = events[(events["peer"] == "offerer") & (events["kind"] == "offer_sent")]
    assert len(offers) == 2
    ufrags = [json.loads(d)["ice_ufrag"] for d in offers["detail"]]
    assert ufrags[0] != ufrags[1]
    assert row["media_gap_ms"] > 0
    # the subscriber's own pair never changed: the media came back on the publisher leg's new pair
    assert row["resumed_on"] == "new-pair" and row["pair_before_answerer"] == row["pair_after_answerer"]
    assert row["signaling_ms"] > 0  # the restart's configure -> Janus's answer


def test_subscriber_handover_restarts_the_subscriber_leg(tmp_path: Path) -> None:
    """The phone subscribes this time: its handover breaks the subscriber leg; its policy asks
    Janus for an ICE restart (`configure` with restart=true), Janus's new offer is answered (`start`)
    and media resumes at the phone."""
    experiment = sfu_experiment("sfu_sub", HANDOVER, ["on-network-change"])
    experiment = experiment.model_copy(update={"peers": experiment.peers.model_copy(
        update={"offerer": "peer", "answerer": "phone"})})
    row, events = only_trial(experiment, tmp_path / "run")
    assert row["status"] == "ok", row.get("failure_reason")
    assert row["recovered"], row
    restarts = events[events["kind"] == "restart"]
    assert set(restarts["peer"]) == {"answerer"}
    offers = events[(events["peer"] == "answerer") & (events["kind"] == "offer_received")]
    assert len(offers) == 2  # Janus's first offer, then its restart offer
    ufrags = [json.loads(d)["ice_ufrag"] for d in offers["detail"]]
    assert ufrags[0] != ufrags[1]
    assert row["media_gap_ms"] > 0


@pytest.mark.parametrize("restart_after_s", [None, 1.0], ids=["stays-dead", "restarted"])
def test_janus_kill_is_reported_not_recoverable_with_the_reason(tmp_path: Path, restart_after_s: float | None) -> None:
    """Killed, Janus's sessions are gone; restarted, it no longer knows them (the claim is refused)."""
    fault = {"type": "janus_kill", "at_s": 2, "restart_after_s": restart_after_s}
    experiment = sfu_experiment("sfu_kill", fault, ["on-disconnected"])
    experiment = experiment.model_copy(update={"timeouts": experiment.timeouts.model_copy(update={"recover_s": 12})})
    row, events = only_trial(experiment, tmp_path / "run")
    assert row["status"] == "ok", row.get("failure_reason")
    assert not row["recovered"]
    assert row["restart_can_recover"] is False or row["restart_can_recover"] == 0
    reason = str(row["unrecoverable_reason"])
    assert "kill -9" in reason and "session" in reason
    gone = events[(events["kind"] == "sfu_session") & (events["state"] == "gone")]
    assert len(gone) or (events["kind"] == "sfu_restart_refused").any()
    if restart_after_s is not None and len(gone):
        assert any("no longer knows session" in json.loads(d)["reason"] for d in gone["detail"])


def test_docker_runtime_accepts_the_sfu_block() -> None:
    """Janus has an image (icelab/sfu): the [sfu] block is no longer refused on the Docker runtime
    (tests/docker/test_sfu_docker.py runs it)."""
    from lab.experiment.check import check_experiment

    check_experiment(sfu_experiment("sfu_docker", HANDOVER, ["on-failed"]), runtime="docker")


def test_bad_sfu_block_is_refused_before_anything_starts(tmp_path: Path) -> None:
    text = (REPO / "experiments" / "sfu_handover.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('[sfu]                      # Janus on the topology\'s host with role "sfu"',
                                "[sfu]\nws_port = 20500"))
    bad.write_text(bad.read_text().replace('topology = "../topologies/', f'topology = "{REPO}/topologies/'))
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "lab", "run", str(bad), "--out", str(out)], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(bad) in lines[0] and "sfu" in lines[0] and "ws_port" in lines[0], lines
    assert not out.exists()


@pytest.mark.parametrize("change,reason", [
    ({"media": {"direction": "both"}}, "offerer-to-answerer"),
    ({"policies": ["on-failed", "full-reconnect"]}, "full-reconnect"),
])
def test_sfu_call_shape_is_checked_at_the_edge(change: dict[str, Any], reason: str) -> None:
    from lab.configfile import read_toml
    from lab.errors import ConfigError
    from lab.experiment.spec import parse_experiment

    data = {**read_toml(REPO / "experiments" / "sfu_handover.toml"), **change}
    with pytest.raises(ConfigError) as caught:
        parse_experiment(data, "sfu.toml", check_topology=False)
    assert caught.value.key == "sfu" and reason in caught.value.reason
