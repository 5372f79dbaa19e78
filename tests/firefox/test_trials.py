"""Firefox in real trials (`icelab run`): a handover with the peer pair as a matrix dimension,
a browser that crashes mid-trial, and a peer kind whose browser is not installed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from lab.runtime.chromium.browser import _parents, browser_pids
from lab.runtime.firefox.browser import profiles_root

pytestmark = pytest.mark.usefixtures("no_leftovers")

ROOT = Path(__file__).resolve().parents[2]

HANDOVER = """
name = "firefox_handover"
topology = "{root}/topologies/phone_handover.toml"
seed = 16
repetitions = 1
policies = [{{ preset = "on-network-change", name = "netchange-phone", side = "offerer" }}]

[peers]
offerer = "phone"
answerer = "peer"
polite = "answerer"

[fault]
type = "handover"
host = "phone"
at_s = 2

[matrix]
peer_pairs = ["firefox-chromium", "aiortc-firefox"]

[timeouts]
connect_s = 60
recover_s = 30
trial_s = 120
observe_s = 1
settle_s = 1
"""


def run_lab(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, **(env or {})})


def test_handover_recovers_with_firefox_on_either_end(tmp_path: Path) -> None:
    """Firefox phone (restarting on the network change) <-> Chromium, and aiortc phone <->
    Firefox: both trials recover onto a new ICE generation at both ends."""
    experiment = tmp_path / "exp.toml"
    experiment.write_text(HANDOVER.format(root=ROOT))
    out = tmp_path / "run"
    done = run_lab("run", str(experiment), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    trials = pd.read_parquet(out / "trials.parquet")
    assert sorted(trials["peer_kind"]) == ["aiortc-firefox", "firefox-chromium"]
    events = pd.read_parquet(out / "events.parquet")
    for _, row in trials.iterrows():
        assert row["status"] == "ok" and bool(row["recovered"]), row.to_dict()
        assert row["trial_id"].startswith(f"{row['offerer_kind']}-{row['answerer_kind']}-")
        mine = events[events["trial_id"] == row["trial_id"]]
        t_fault = float(mine.loc[mine["kind"] == "fault", "t_monotonic"].min())
        after = mine[mine["t_monotonic"] >= t_fault]
        assert set(after[after["kind"] == "restart"]["peer"]) == {"offerer"}
        for role in ("offerer", "answerer"):
            pairs = after[(after["peer"] == role) & (after["kind"] == "selected_pair")]
            generations = [json.loads(d).get("generation") for d in pairs["detail"]]
            assert any((g or 0) >= 1 for g in generations), f"{row['trial_id']}: {role} stayed on generation 0"
        ready = mine[mine["kind"] == "agent_ready"]
        kinds = {peer: json.loads(d).get("peer_kind", "aiortc") for peer, d in zip(ready["peer"], ready["detail"], strict=False)}
        assert kinds == {"offerer": row["offerer_kind"], "answerer": row["answerer_kind"]}


CRASH = """
name = "firefox_crash"
topology = "{root}/topologies/two_peers.toml"
seed = 3
repetitions = 2
policies = ["on-disconnected"]

[peers]
offerer = "alice"
answerer = "bob"
answerer_kind = "firefox"

[ice]
consent_interval_s = 0.5
disconnected_after_s = 1.0
failed_after_s = 4.0

[fault]
type = "blackhole"
node = "nat_a"
iface = "wan"
duration_s = 2
at_s = 8

[timeouts]
connect_s = 60
recover_s = 30
trial_s = 120
observe_s = 1
"""


def _main_browser(pids: list[int]) -> int | None:
    """The marked process whose parent is not marked: Firefox's parent process."""
    parents = _parents()
    found = [pid for pid in pids if parents.get(pid) not in pids]
    return found[0] if found else None


def test_firefox_crash_fails_its_trial_and_the_run_goes_on(tmp_path: Path) -> None:
    """Firefox's parent process is killed with -9 during the first trial: that trial ends
    'failed' with the reason, the second trial runs normally, nothing is left behind."""
    experiment = tmp_path / "exp.toml"
    experiment.write_text(CRASH.format(root=ROOT))
    out = tmp_path / "run"
    killed: list[int] = []

    def in_call() -> bool:  # the first trial's Firefox applied the answer: the call is up
        return any(b"setRemoteDescription ok" in log.read_bytes()
                   for log in out.glob("trials/*/agent-answerer.log"))

    def crash_first_browser() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            pids = browser_pids(str(profiles_root()))
            if pids and in_call():
                time.sleep(1.0)
                main = _main_browser(browser_pids(str(profiles_root())))
                if main is not None:
                    os.kill(main, signal.SIGKILL)
                    killed.append(main)
            time.sleep(0.1)

    crasher = threading.Thread(target=crash_first_browser, daemon=True)
    crasher.start()
    done = run_lab("run", str(experiment), "--out", str(out))
    crasher.join()
    assert killed, "no Firefox to crash"
    assert done.returncode == 0, done.stdout + done.stderr
    trials = pd.read_parquet(out / "trials.parquet").sort_values("index")
    assert list(trials["status"]) == ["failed", "ok"], trials[["trial_id", "status", "failure_reason"]].to_dict("records")
    reason = trials.iloc[0]["failure_reason"]
    assert "answerer agent" in reason and "Firefox exited with code -9" in reason, reason


def test_missing_firefox_is_one_clear_error_before_anything_is_created(tmp_path: Path) -> None:
    experiment = tmp_path / "exp.toml"
    experiment.write_text(HANDOVER.format(root=ROOT))
    out = tmp_path / "run"
    before = set(Path("/run/netns").iterdir()) if Path("/run/netns").is_dir() else set()
    done = run_lab("run", str(experiment), "--out", str(out), env={"ICELAB_FIREFOX": str(tmp_path / "no-firefox")})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "matrix.peer_pairs" in done.stderr and "'firefox'" in done.stderr and "firefox-esr" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()
    after = set(Path("/run/netns").iterdir()) if Path("/run/netns").is_dir() else set()
    assert not {p for p in after - before if os.environ.get("ICELAB_SCOPE", "") in p.name}
