"""Chromium in real trials (`icelab run`): a phone hands over from Wi-Fi to LTE behind
port-restricted NATs (topologies/phone_handover.toml), the policy restarts ICE on the network
change, and media resumes at both ends. The restart is initiated by the Chromium side in one
run and by the aiortc side in the other; the results carry the peer kinds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.usefixtures("no_leftovers")

ROOT = Path(__file__).resolve().parents[2]

EXPERIMENT = """
name = "chromium_handover_{phone}"
topology = "{root}/topologies/phone_handover.toml"
seed = 9
repetitions = 1
policies = [{{ preset = "on-network-change", name = "netchange-phone", side = "offerer" }}]

[peers]
offerer = "phone"
answerer = "peer"
polite = "answerer"
offerer_kind = "{phone}"
answerer_kind = "{peer}"

[fault]
type = "handover"
host = "phone"
at_s = 2

[timeouts]
connect_s = 60
recover_s = 30
trial_s = 120
observe_s = 1
settle_s = 1
"""


@pytest.mark.parametrize("phone,peer", [("chromium", "aiortc"), ("aiortc", "chromium")],
                         ids=["chromium-restarts", "aiortc-restarts"])
def test_handover_recovers_with_restart_by_either_side(phone: str, peer: str, tmp_path: Path) -> None:
    experiment = tmp_path / "exp.toml"
    experiment.write_text(EXPERIMENT.format(root=ROOT, phone=phone, peer=peer))
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "lab", "run", str(experiment), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    trials = pd.read_parquet(out / "trials.parquet")
    assert len(trials) == 1
    row = trials.iloc[0]
    assert (row["offerer_kind"], row["answerer_kind"]) == (phone, peer)
    assert row["peer_kind"] == f"{phone}-{peer}"
    assert row["status"] == "ok" and bool(row["recovered"]), row.to_dict()
    assert row["media_gap_ms_at_offerer"] > 0 and row["media_gap_ms_at_answerer"] > 0

    events = pd.read_parquet(out / "events.parquet")
    t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())
    after = events[events["t_monotonic"] >= t_fault]
    restarts = after[after["kind"] == "restart"]
    assert set(restarts["peer"]) == {"offerer"}, restarts[["peer", "detail"]].to_dict("records")
    for role in ("offerer", "answerer"):
        pairs = after[(after["peer"] == role) & (after["kind"] == "selected_pair")]
        generations = [json.loads(d).get("generation") for d in pairs["detail"]]
        assert any((g or 0) >= 1 for g in generations), f"{role} never moved to the new ICE generation"
        assert len(after[(after["peer"] == role) & (after["kind"] == "media_rx")]) > 25
    ready = events[events["kind"] == "agent_ready"]
    chromium_role = "offerer" if phone == "chromium" else "answerer"
    detail = json.loads(ready[ready["peer"] == chromium_role]["detail"].iloc[0])
    assert detail["peer_kind"] == "chromium" and detail["detection"] == "chromium-builtin"
