"""The shipped Wi-Fi -> LTE handover really starts on Wi-Fi with the plain lab.rtc peer.

Real parts: two aiortc agents (lab.rtc, no stand-in profile) on topologies/phone_handover.toml
(kernel NATs, coturn, the lab's signaling server), LTE on standby before the call. The phone ranks
its networks as a phone does (lab.runtime.agent.rtc.PLAIN_NETWORKS), so its first selected pair
is on wlan0, and the handover interrupts the call (lab.experiment.metrics `interrupted`). Before,
the first pair to answer carried the call, sometimes the standby wwan0 one, and the handover never
touched the media. Asserted from the events, never from wall-clock times.
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

EXPERIMENT = phone_handover("handover_on_wifi", seed=15, policy="on-network-change", repetitions=2)


def interface_of(candidates: pd.DataFrame, local: dict[str, object]) -> str | None:
    """The phone's interface of a selected pair's local candidate (its own candidate_sent events)."""
    address = str(local["local_address"]).rsplit(":", 1)[0]
    for detail in candidates["detail"]:
        d = json.loads(detail)
        if address in (d.get("address"), d.get("related_address")) and d.get("interface"):
            return str(d["interface"])
    return None


def test_the_phone_calls_over_wifi_and_the_handover_interrupts_it(tmp_path: Path) -> None:
    trials, events = run_phone_handover(tmp_path, EXPERIMENT)
    for trial_id, mine in events.groupby("trial_id"):
        phone = mine[mine["peer"] == "offerer"].sort_values("t_monotonic")
        first = json.loads(phone[phone["kind"] == "selected_pair"]["detail"].iloc[0])
        assert interface_of(phone[phone["kind"] == "candidate_sent"], first) == "wlan0", (trial_id, first)
    assert trials["interrupted"].all(), trials[["trial_id", "failure_reason"]].to_dict("records")
    assert trials["recovered"].all() and (trials["resumed_on"] == "new-pair").all(), \
        trials[["trial_id", "resumed_on", "failure_reason"]].to_dict("records")
