"""The short scenario the end-to-end tests and benchmarks share: a 2 s blackhole of alice's NAT
uplink on topologies/two_peers.toml, restart on 'disconnected', fast detection timers."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def short_blackhole(name: str, *, seed: int, repetitions: int = 1, at_s: float = 1.5,
                    answerer_kind: str | None = None, transport: str | None = None,
                    capture: list[str] | None = None, connect_s: float = 40, recover_s: float = 40,
                    settle_s: float | None = None) -> str:
    """The experiment file's text (TOML)."""
    peers = 'offerer = "alice"\nanswerer = "bob"\n'
    if answerer_kind:
        peers += f'answerer_kind = "{answerer_kind}"\n'
    ice = f'transport = "{transport}"\n' if transport else ""
    timeouts = f"connect_s = {connect_s}\nrecover_s = {recover_s}\ntrial_s = 120\nobserve_s = 1\n"
    if settle_s is not None:
        timeouts += f"settle_s = {settle_s}\n"
    text = f"""
name = "{name}"
topology = "{ROOT}/topologies/two_peers.toml"
seed = {seed}
repetitions = {repetitions}
policies = ["on-disconnected"]

[peers]
{peers}
[ice]
{ice}consent_interval_s = 0.5
disconnected_after_s = 1.0
failed_after_s = 4.0

[fault]
type = "blackhole"
node = "nat_a"
iface = "wan"
duration_s = 2
at_s = {at_s}

[timeouts]
{timeouts}"""
    if capture:
        text += f"\n[capture]\nhosts = {capture!r}\n".replace("'", '"')
    return text
