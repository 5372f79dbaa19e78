"""The media's path in a move inside ICE generation 0 is told from the pair each unit arrived
on, not from the receiver's selected pair, which lags it.

The `chrome` stand-in (aiortc~chrome, policy on-disconnected) on the standby Wi-Fi -> LTE
handover: both sides move to the LTE pair in generation 0 without a restart. The phone's peer
switches first, so its media reaches the phone's LTE socket while the phone still has its Wi-Fi
pair selected. The metric once called that 'old-path' (the phone's Wi-Fi address was gone).

Real parts: two aiortc agents on topologies/phone_handover.toml (kernel NATs, coturn, the lab's
signaling server). Asserted from the events, never from wall-clock times.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.experiment.phone_handover import phone_handover

ROOT = Path(__file__).resolve().parents[2]
WIFI, LTE = "192.168.1.", "100.72.0."  # the phone's wlan0 and wwan0 addresses

pytestmark = pytest.mark.skipif(shutil.which("turnserver") is None,
                                reason="needs coturn (scripts/setup-debian.sh)")


def test_the_stand_ins_move_in_generation_0_resumes_on_a_new_pair(tmp_path: Path) -> None:
    text = phone_handover("handover_path", seed=23, policy="on-disconnected", recover_s=20, trial_s=90)
    path = tmp_path / "handover.toml"
    path.write_text(text.replace('polite = "answerer"\n', 'polite = "answerer"\nkind = "aiortc~chrome"\n', 1))
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "lab", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    trial = pd.read_parquet(out / "trials.parquet").iloc[0]
    events = pd.read_parquet(out / "events.parquet")
    t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())

    # the evidence: each unit at the phone names the socket it arrived on
    at_phone = events[(events["peer"] == "offerer") & (events["kind"] == "media_rx")]
    local = [json.loads(d).get("local_address", "") for d in at_phone["detail"]]
    before = [a for a, t in zip(local, at_phone["t_monotonic"], strict=True) if t < t_fault]
    after = [a for a, t in zip(local, at_phone["t_monotonic"], strict=True) if t > t_fault]
    assert before and all(a.startswith(WIFI) for a in before), before[-5:]
    assert after and after[-1].startswith(LTE), after[-5:]
    moved = events[(events["kind"] == "selected_pair") & (events["t_monotonic"] > t_fault)]
    assert all(json.loads(d)["generation"] == 0 for d in moved["detail"]), moved.to_dict("records")

    # the metric: the media came back over another pair, in both directions
    assert trial["recovered"], trial.to_dict()
    assert trial["resumed_on"] == "new-pair", trial.to_dict()
    assert trial["resumed_on_offerer"] == trial["resumed_on_answerer"] == "new-pair"
    assert trial["generation_before_offerer"] == trial["generation_after_offerer"] == 0
    assert str(trial["pair_before_offerer"]).startswith(f"host {WIFI}")
    assert str(trial["pair_after_offerer"]).startswith(f"host {LTE}")
