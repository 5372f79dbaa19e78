"""The phone's standby Wi-Fi -> LTE handover on topologies/phone_handover.toml, at 20 ms RTT,
as the handover tests share it (aiortc <-> aiortc, the phone offers)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def phone_handover(name: str, *, seed: int, policy: str, repetitions: int = 1, ice: str = "",
                   recover_s: float = 10, trial_s: float = 60) -> str:
    """The experiment file's text (TOML); `ice` is the body of an [ice] table, if any."""
    ice_table = f"[ice]\n{ice}\n" if ice else ""
    return f"""
name = "{name}"
topology = "{ROOT}/topologies/phone_handover.toml"
seed = {seed}
repetitions = {repetitions}
policies = ["{policy}"]

[peers]
offerer = "phone"
answerer = "peer"
polite = "answerer"

{ice_table}
[fault]
type = "handover"
host = "phone"
from_iface = "wlan0"
to_iface = "wwan0"
variant = "standby"
at_s = 2

[matrix]
rtt_ms = [20]

[timeouts]
connect_s = 30
recover_s = {recover_s}
trial_s = {trial_s}
observe_s = 1
"""
