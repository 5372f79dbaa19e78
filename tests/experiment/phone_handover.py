"""The phone's standby Wi-Fi -> LTE handover on topologies/phone_handover.toml, at 20 ms RTT,
as the handover tests share it (aiortc <-> aiortc, the phone offers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def phone_handover(name: str, *, seed: int, policy: str = "", policies: str = "", repetitions: int = 1,
                   ice: str = "", peers: str = "", connect_s: float = 30, recover_s: float = 10,
                   trial_s: float = 60, settle_s: float | None = None, variant: str = 'variant = "standby"') -> str:
    """The experiment file's text (TOML). `policy`: one policy name, or `policies`: the body of
    the policies list; `ice`: the body of an [ice] table, if any; `peers`: more [peers] lines;
    `variant`: the handover's variant lines."""
    ice_table = f"[ice]\n{ice}\n" if ice else ""
    return f"""
name = "{name}"
topology = "{ROOT}/topologies/phone_handover.toml"
seed = {seed}
repetitions = {repetitions}
policies = [{policies or f'"{policy}"'}]

[peers]
offerer = "phone"
answerer = "peer"
polite = "answerer"
{peers}
{ice_table}
[fault]
type = "handover"
host = "phone"
from_iface = "wlan0"
to_iface = "wwan0"
{variant}
at_s = 2

[matrix]
rtt_ms = [20]

[timeouts]
connect_s = {connect_s}
recover_s = {recover_s}
trial_s = {trial_s}
observe_s = 1
{f"settle_s = {settle_s}" if settle_s is not None else ""}
"""


def run_phone_handover(tmp_path: Path, text: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the experiment text with `icelab run` (a child process, as a user does): its trials and
    events, once every trial recovered."""
    path = tmp_path / "handover.toml"
    path.write_text(text)
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "lab", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = pd.read_parquet(out / "trials.parquet")
    assert trials["recovered"].all(), trials.to_dict("records")
    return trials, pd.read_parquet(out / "events.parquet")
