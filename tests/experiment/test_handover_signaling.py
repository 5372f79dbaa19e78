"""A policy that does not watch the network still has an app that does, for its signaling.

Real parts: two aiortc agents on topologies/phone_handover.toml (kernel NATs, coturn, the lab's
WebSocket signaling server), the shipped `standby` Wi-Fi -> LTE handover, policy
'on-disconnected'. After the break the phone's signaling WebSocket is bound to the vanished Wi-Fi
address; an app learns of the change from its OS and re-opens it over LTE at once, whatever its
ICE restart policy. The policy's ICE decision is unchanged: the restart still waits for
'disconnected'. Asserted from the order of the events, never from wall-clock times.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.experiment.phone_handover import phone_handover, run_phone_handover

pytestmark = pytest.mark.skipif(shutil.which("turnserver") is None,
                                reason="needs coturn (scripts/setup-debian.sh)")

EXPERIMENT = phone_handover("handover_signaling", seed=13, policy="on-disconnected", recover_s=25, trial_s=90,
                            ice="consent_interval_s = 1.0\ndisconnected_after_s = 2.0\nfailed_after_s = 6.0")


def first(rows: pd.DataFrame, after: float) -> float:
    later = rows[rows["t_monotonic"] >= after]["t_monotonic"]
    assert not later.empty, rows
    return float(later.min())


def test_on_disconnected_handover_reconnects_signaling_before_its_ice_restart(tmp_path: Path) -> None:
    _, events = run_phone_handover(tmp_path, EXPERIMENT)
    t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())
    peers = events[events["peer"].isin(["offerer", "answerer"])]
    phone = peers[peers["peer"] == "offerer"]

    # the phone's app moved its signaling at the network event (the event may be stamped a
    # fraction of a millisecond before the orchestrator's fault record: it is the first one)
    reconnects = phone[phone["kind"] == "signaling_reconnect"]
    assert not reconnects.empty, "the phone's signaling waited for its keepalive to give up"
    assert json.loads(reconnects["detail"].iloc[0])["reason"] == "network-change"
    t_reconnect = float(reconnects["t_monotonic"].min())
    channel = phone[phone["kind"] == "signaling_channel"]
    t_rejoined = first(channel[channel["state"] == "connected"], t_reconnect)
    # ... so it was back before either peer's ICE noticed the break, and before the restart
    # offer (from whichever peer restarted first) left
    ice = peers[peers["kind"] == "ice_state"]
    t_disconnected = first(ice[ice["state"] == "disconnected"], t_fault)
    t_offer = first(peers[peers["kind"] == "offer_sent"], t_fault)
    assert t_reconnect < t_disconnected and t_rejoined < t_offer

    # the ICE decision is the policy's own: no network-change trigger, restarts at 'disconnected'
    assert peers[peers["kind"] == "network_change"].empty
    restarts = peers[(peers["kind"] == "restart") & (peers["t_monotonic"] >= t_fault)]
    assert not restarts.empty
    assert {json.loads(d)["reason"] for d in restarts["detail"]} == {"disconnected"}
    assert float(restarts["t_monotonic"].min()) >= t_disconnected
