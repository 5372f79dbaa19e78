"""On the standby Wi-Fi -> LTE handover the call moves to the LTE pair in ICE generation 0, on
both sides, without an ICE restart:
- the `chrome` stand-in (aiortc~chrome, policy on-disconnected), as real Chromium does: the
  phone (controlling) moves once its Wi-Fi pair has been silent for a while, and its peer
  (controlled) follows the phone's nomination instead of staying on the dead pair until
  'disconnected' and restarting;
- plain lab.rtc under continual gathering, whose backup pairs are kept warm: the phone nominates
  the LTE pair at once, and its peer follows.

Real parts: two aiortc agents on topologies/phone_handover.toml (kernel NATs, coturn, the lab's
signaling server). Asserted from the order of the events, never from wall-clock times.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.experiment.phone_handover import phone_handover, run_phone_handover

pytestmark = pytest.mark.skipif(shutil.which("turnserver") is None,
                                reason="needs coturn (scripts/setup-debian.sh)")

LTE_NAT = "198.51.100.30"  # nat_lte's WAN address: the phone's LTE srflx, as its peer sees it


def experiment(name: str, policy: str, kind: str) -> str:
    text = phone_handover(name, seed=21, policy=policy, recover_s=20, trial_s=90)
    return text.replace('polite = "answerer"\n', f'polite = "answerer"\nkind = "{kind}"\n', 1)


@pytest.mark.parametrize(("policy", "kind"), [("on-disconnected", "aiortc~chrome"),
                                              ("continual-gathering", "aiortc")])
def test_both_sides_move_to_the_lte_pair_in_generation_0(tmp_path: Path, policy: str, kind: str) -> None:
    _, events = run_phone_handover(tmp_path, experiment("handover_gen0", policy, kind))
    t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())
    peers = events[events["peer"].isin(["offerer", "answerer"])]
    after = peers[peers["t_monotonic"] >= t_fault]
    selected = peers[peers["kind"] == "selected_pair"]

    # before the fault the peer sends to the phone's Wi-Fi (the handover interrupts the call)
    before = selected[(selected["peer"] == "answerer") & (selected["t_monotonic"] < t_fault)]
    assert not before.empty and LTE_NAT not in json.loads(before["detail"].iloc[-1])["remote_address"]
    # after it, both end on the LTE pair, in generation 0
    moved = selected[selected["t_monotonic"] >= t_fault]
    peer_moves = [json.loads(d) for d in moved.loc[moved["peer"] == "answerer", "detail"]]
    phone_moves = [json.loads(d) for d in moved.loc[moved["peer"] == "offerer", "detail"]]
    assert peer_moves and phone_moves, moved.to_dict("records")
    assert peer_moves[-1]["remote_address"].startswith(LTE_NAT + ":") and peer_moves[-1]["generation"] == 0
    assert phone_moves[-1]["local_address"].startswith("100.72.0.") and phone_moves[-1]["generation"] == 0
    # without an ICE restart: no new offer, no 'disconnected'
    assert after[after["kind"] == "offer_sent"].empty, after[after["kind"] == "offer_sent"].to_dict("records")
    states = after[after["kind"] == "ice_state"]["state"].tolist()
    assert "disconnected" not in states and "failed" not in states
