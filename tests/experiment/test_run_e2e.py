"""End to end, real parts: two aiortc peer agents in namespaces behind NATs, coturn for STUN,
the WebSocket signaling server, a 2 s blackhole, restart on 'disconnected'.

One run of two trials (in parallel) checks the run folder, the recovery, `--resume`, and the
media gap against a tcpdump capture at the receiver (within +-5 ms).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lab import naming
from lab.experiment import continuity
from lab.experiment.events import COLUMNS
from lab.experiment.metrics import direction_metrics
from lab.experiment.pcap import trial_packets, wire_arrivals
from tests.experiment.short_blackhole import short_blackhole

ROOT = Path(__file__).resolve().parents[2]
ICELAB = [sys.executable, "-m", "lab"]

pytestmark = pytest.mark.skipif(shutil.which("turnserver") is None or shutil.which("tcpdump") is None,
                                reason="needs coturn and tcpdump (scripts/setup-debian.sh)")

EXPERIMENT = short_blackhole("e2e_blackhole", seed=3, repetitions=2, capture=["bob"], settle_s=1)


def icelab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ICELAB, *args], capture_output=True, text=True, timeout=600, cwd=ROOT)


def lab_namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip() and naming.is_lab_netns(line.split()[0])]


def capture_gap_ms(trial_dir: Path, events: pd.DataFrame) -> tuple[float, float]:
    """(agent's gap, capture's gap) at bob: the metrics' gap definition (lab.experiment.continuity)
    applied to the agent's media_rx and, independently, to the RTP arrivals tcpdump saw at bob."""
    t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())
    t_end = float(events.loc[events["kind"] == "trial_end", "t_monotonic"].max())
    d = direction_metrics(events, "answerer", t_fault, t_end, None)
    rx = events[(events["peer"] == "answerer") & (events["kind"] == "media_rx")]
    table = trial_packets(trial_dir, events[events["peer"] == "answerer"])
    wire = wire_arrivals(table, "bob", set(rx["ssrc"].astype("int64")))
    assert len(wire) >= 0.9 * len(rx), "the capture misses RTP the agent received"
    outages = continuity.outages(wire, t_fault, t_end)
    assert outages, "no outage on the wire"
    return d.media_gap_ms, outages[0].duration_ms


def test_blackhole_run_recovers_resumes_and_matches_capture(tmp_path: Path) -> None:
    experiment = tmp_path / "e2e.toml"
    experiment.write_text(EXPERIMENT)
    out = tmp_path / "run"
    done = icelab("run", str(experiment), "--out", str(out), "--jobs", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 trials run, 0 resumed, 2/2 recovered" in done.stdout, done.stdout + done.stderr[-3000:]

    for name in ("run.json", "trials.parquet", "trials.csv", "events.parquet", "experiment.toml"):
        assert (out / name).is_file(), name
    info = json.loads((out / "run.json").read_text())
    for key in ("versions", "git", "spec_hash", "seed", "kernel", "delay_backend"):
        assert key in info, key
    assert info["trials_completed"] == 2

    trials = pd.read_parquet(out / "trials.parquet")
    assert len(trials) == 2 and pd.read_csv(out / "trials.csv").shape[0] == 2
    assert trials["recovered"].all() and (trials["status"] == "ok").all()
    assert (trials["restarts"] >= 1).all()
    # a blackhole of 2 s cannot cost less than ~2 s of media
    assert (trials["media_gap_ms"] > 1500).all()
    assert (trials["detection_ms"] > 0).all()
    # a 2 s blackhole mostly ends before the restart's pair is up: media comes back on the old
    # path, and then no restart phase may be reported
    assert set(trials["resumed_on"]) <= {"old-path", "new-pair"}
    old = trials["resumed_on"] == "old-path"
    assert trials.loc[old, "restart_ms"].isna().all() and trials.loc[~old, "restart_ms"].notna().all()
    assert (trials["observed_ms"] > 2000).all() and (trials["negotiations"] >= 1).all()

    events = pd.read_parquet(out / "events.parquet")
    assert list(events.columns) == COLUMNS
    assert {"fault", "restart", "media_rx", "media_tx", "selected_pair", "offer_sent"} <= set(events["kind"])

    for trial_id in trials["trial_id"]:
        trial_dir = out / "trials" / trial_id
        for log in ("agent-offerer.log", "agent-answerer.log", "signaling.log"):
            assert (trial_dir / log).is_file(), log
        agent_gap, wire_gap = capture_gap_ms(trial_dir, events[events["trial_id"] == trial_id])
        assert (trial_dir / "capture.pcapng").is_file()
        assert abs(agent_gap - wire_gap) <= 5.0, (trial_id, agent_gap, wire_gap)

    # a crash during the second trial: its result is missing; --resume runs only that one
    (out / "trials" / trials["trial_id"][1] / "result.json").unlink()
    again = icelab("run", str(experiment), "--out", str(out))
    assert again.returncode == 1 and "--resume" in again.stderr
    resumed = icelab("run", str(experiment), "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 trials run, 1 resumed" in resumed.stdout
    assert len(pd.read_parquet(out / "trials.parquet")) == 2
    assert lab_namespaces() == []


def test_failed_trial_is_recorded_and_run_goes_on(tmp_path: Path) -> None:
    # 10 ms for the call to connect: far too short, the trial fails before its fault
    text = short_blackhole("e2e_blackhole", seed=3, connect_s=0.01, settle_s=1)
    experiment = tmp_path / "fail.toml"
    experiment.write_text(text)
    done = icelab("run", str(experiment), "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-3000:]
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert trials["status"].tolist() == ["failed"]
    assert "media did not flow both ways" in trials["failure_reason"][0]
    assert lab_namespaces() == []


def test_bad_experiment_exits_2(tmp_path: Path) -> None:
    experiment = tmp_path / "bad.toml"
    experiment.write_text(EXPERIMENT.replace('type = "blackhole"', 'type = "meteor"'))
    done = icelab("run", str(experiment), "--out", str(tmp_path / "run"))
    assert done.returncode == 2
    assert "bad.toml: fault: unknown fault type" in done.stderr
