"""Browsers in real trials (`icelab run`).

A phone hands over from Wi-Fi to LTE behind port-restricted NATs, the policy restarts ICE on the
network change, and media resumes at both ends: Chromium on standby LTE
(topologies/phone_handover.toml) with the restart initiated by the Chromium side in one run and by
the aiortc side in the other, and Firefox against Chromium and aiortc with the peer pair as a
matrix dimension. The results carry the peer kinds. A Firefox that crashes mid-trial fails that
trial only; a peer kind whose browser is not installed is refused before anything is created.
"""

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
from tests.browsers.harness import ROOT
from tests.experiment.short_blackhole import short_blackhole

pytestmark = pytest.mark.usefixtures("no_leftovers")


def run_lab(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env={**os.environ, **(env or {})})


def check_restart_by_the_offerer(events: pd.DataFrame, label: str) -> float:
    """One trial's events: after the fault only the offerer restarted and both peers moved to a
    new ICE generation. Returns the fault's time."""
    t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())
    after = events[events["t_monotonic"] >= t_fault]
    restarts = after[after["kind"] == "restart"]
    assert set(restarts["peer"]) == {"offerer"}, (label, restarts[["peer", "detail"]].to_dict("records"))
    for role in ("offerer", "answerer"):
        pairs = after[(after["peer"] == role) & (after["kind"] == "selected_pair")]
        generations = [json.loads(d).get("generation") for d in pairs["detail"]]
        assert any((g or 0) >= 1 for g in generations), f"{label}: {role} stayed on generation 0"
    return t_fault


def check_media_back_on_the_new_pair(row: pd.Series, events: pd.DataFrame, kinds: dict[str, str]) -> None:
    """A restart brought media back on a new pair at both receivers: the trial row says so, with
    the restart's phases, whatever the receiver's kind. A browser receiver's units carry no
    generation: its pair_rx edges (the page's per-pair byte counters) placed them."""
    label = row["trial_id"]
    assert row["resumed_on"] == "new-pair", (label, {k: row.get(k) for k in row.index if "resumed_on" in k
                                                     or "pair_" in k or "path_unknown" in k})
    for role in ("offerer", "answerer"):
        assert row[f"resumed_on_{role}"] == "new-pair", (label, role)
        assert row[f"generation_before_{role}"] == 0 and row[f"generation_after_{role}"] >= 1, (label, role)
        assert row[f"pair_before_{role}"] != row[f"pair_after_{role}"], (label, role)
        if kinds[role] != "aiortc":
            t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())
            edges = events[(events["peer"] == role) & (events["kind"] == "pair_rx") & (events["t_monotonic"] > t_fault)]
            starts = [json.loads(d) for d in edges["detail"]]
            assert any(d["edge"] == "start" and (d.get("generation") or 0) >= 1 for d in starts), (label, role, starts)
    for phase in ("signaling_ms", "checks_ms", "first_media_ms", "restart_ms"):
        assert pd.notna(row[phase]) and row[phase] >= 0, (label, phase, row[phase])
    assert row["negotiation_id"], label


def handover(name: str, topology: str, seed: int, peers: str, fault: str = "") -> str:
    """A handover trial of the phone (restarting ICE on the network change) with the peer: the
    experiment file's text, `peers` adding to its [peers] table (or a [matrix] of peer pairs)."""
    return f"""
name = "{name}"
topology = "{ROOT}/topologies/{topology}.toml"
seed = {seed}
repetitions = 1
policies = [{{ preset = "on-network-change", name = "netchange-phone", side = "offerer" }}]

[peers]
offerer = "phone"
answerer = "peer"
polite = "answerer"
{peers}
[fault]
type = "handover"
host = "phone"
{fault}at_s = 2

[timeouts]
connect_s = 60
recover_s = 30
trial_s = 120
observe_s = 1
settle_s = 1
"""


def chromium_handover(phone: str, peer: str) -> str:
    return handover(f"chromium_handover_{phone}", "phone_handover", 9,
                    f'offerer_kind = "{phone}"\nanswerer_kind = "{peer}"\n')


# the peer pair as a matrix dimension (a [matrix] table after [peers]'s keys)
FIREFOX_HANDOVER = handover("firefox_handover", "phone_handover", 16,
                            '\n[matrix]\npeer_pairs = ["firefox-chromium", "aiortc-firefox"]\n')


@pytest.mark.chromium
@pytest.mark.parametrize("phone,peer", [("chromium", "aiortc"), ("aiortc", "chromium")],
                         ids=["chromium-restarts", "aiortc-restarts"])
def test_handover_recovers_with_restart_by_either_side(phone: str, peer: str, tmp_path: Path) -> None:
    experiment = tmp_path / "exp.toml"
    experiment.write_text(chromium_handover(phone, peer))
    out = tmp_path / "run"
    done = run_lab("run", str(experiment), "--out", str(out), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    trials = pd.read_parquet(out / "trials.parquet")
    assert len(trials) == 1
    row = trials.iloc[0]
    assert (row["offerer_kind"], row["answerer_kind"]) == (phone, peer)
    assert row["peer_kind"] == f"{phone}-{peer}"
    assert row["status"] == "ok" and bool(row["recovered"]), row.to_dict()
    assert row["media_gap_ms_at_offerer"] > 0 and row["media_gap_ms_at_answerer"] > 0

    events = pd.read_parquet(out / "events.parquet")
    t_fault = check_restart_by_the_offerer(events, row["trial_id"])
    after = events[events["t_monotonic"] >= t_fault]
    for role in ("offerer", "answerer"):
        assert len(after[(after["peer"] == role) & (after["kind"] == "media_rx")]) > 25
    ready = events[events["kind"] == "agent_ready"]
    chromium_role = "offerer" if phone == "chromium" else "answerer"
    detail = json.loads(ready[ready["peer"] == chromium_role]["detail"].iloc[0])
    assert detail["peer_kind"] == "chromium" and detail["detection"] == "chromium-builtin"
    # standby, as on a phone: the call ran over Wi-Fi until the break (LTE was up as well)
    phone_pairs = events[(events["peer"] == "offerer") & (events["kind"] == "selected_pair")
                         & (events["t_monotonic"] < t_fault)]
    local = json.loads(phone_pairs["detail"].iloc[-1])["local_address"]
    assert local.startswith(("192.168.1.", "198.51.100.10:")), local  # wlan0 or nat_wifi's mapping
    if phone == "chromium":
        check_phone_candidates(events, t_fault)
    check_media_back_on_the_new_pair(row, events, {"offerer": phone, "answerer": peer})


def check_phone_candidates(events: pd.DataFrame, t_fault: float) -> None:
    """The browser's candidate_sent events carry the agreed fields; after the handover (LTE on
    standby, Wi-Fi down with its address removed) the restart's generation is gathered on LTE
    and offers no candidate with the lost Wi-Fi address."""
    sent = events[(events["peer"] == "offerer") & (events["kind"] == "candidate_sent")]
    details = [(float(t), json.loads(d)) for t, d in zip(sent["t_monotonic"], sent["detail"], strict=False)]
    candidates = [(t, d) for t, d in details if not d.get("end_of_candidates")]
    for _, d in candidates:
        assert {"ice_ufrag", "generation", "type", "address", "port", "protocol", "interface"} <= set(d), d
    before = [d for t, d in candidates if t < t_fault and d["type"] == "host"]
    assert {d["interface"] for d in before} == {"wlan0", "wwan0"}, before  # standby: LTE up before the call
    wifi_addresses = {d["address"] for d in before if d["interface"] == "wlan0"}
    new = [d for t, d in candidates if t >= t_fault and d["generation"] >= 1]
    assert any(d["interface"] == "wwan0" for d in new), new
    # (Chromium keeps the lost network in its list for its 2 s address-change debounce and may
    # name its address in an active TCP candidate, port 9, which sends nothing unless a TCP pair
    # is checked; a UDP candidate on it would need a socket bound to an address that is gone)
    udp = [d for d in new if d["protocol"] == "udp"]
    assert not [d for d in udp if d["address"] in wifi_addresses or d.get("related_address") in wifi_addresses]
    assert any(d.get("end_of_candidates") and d["generation"] == 0 for _, d in details)


@pytest.mark.chromium
def test_handover_recovers_with_firefox_on_either_end(tmp_path: Path) -> None:
    """Firefox phone (restarting on the network change) <-> Chromium, and aiortc phone <->
    Firefox: both trials recover onto a new ICE generation at both ends."""
    experiment = tmp_path / "exp.toml"
    experiment.write_text(FIREFOX_HANDOVER)
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
        check_restart_by_the_offerer(mine, row["trial_id"])
        ready = mine[mine["kind"] == "agent_ready"]
        kinds = {peer: json.loads(d).get("peer_kind", "aiortc") for peer, d in zip(ready["peer"], ready["detail"], strict=False)}
        assert kinds == {"offerer": row["offerer_kind"], "answerer": row["answerer_kind"]}
        check_media_back_on_the_new_pair(row, mine, kinds)


CRASH = short_blackhole("firefox_crash", seed=3, repetitions=2, at_s=8, answerer_kind="firefox",
                        connect_s=60, recover_s=30)


def _main_browser(pids: list[int]) -> int | None:
    """The marked process whose parent is not marked: Firefox's parent process."""
    parents = _parents()
    found = [pid for pid in pids if parents.get(pid) not in pids]
    return found[0] if found else None


def test_firefox_crash_fails_its_trial_and_the_run_goes_on(tmp_path: Path) -> None:
    """Firefox's parent process is killed with -9 during the first trial: that trial ends
    'failed' with the reason, the second trial runs normally, nothing is left behind."""
    experiment = tmp_path / "exp.toml"
    experiment.write_text(CRASH)
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
    experiment.write_text(FIREFOX_HANDOVER)
    out = tmp_path / "run"
    before = set(Path("/run/netns").iterdir()) if Path("/run/netns").is_dir() else set()
    done = run_lab("run", str(experiment), "--out", str(out), env={"ICELAB_FIREFOX": str(tmp_path / "no-firefox")})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "matrix.peer_pairs" in done.stderr and "'firefox'" in done.stderr and "firefox-esr" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()
    after = set(Path("/run/netns").iterdir()) if Path("/run/netns").is_dir() else set()
    assert not {p for p in after - before if os.environ.get("ICELAB_SCOPE", "") in p.name}
