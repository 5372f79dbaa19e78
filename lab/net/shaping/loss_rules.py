"""Kernel-side random loss on an interface's egress, for the nfqueue backend.

nft picks the packets (numgen random) and sets their priority to the htb class that ends in a
blackhole qdisc (see qdiscs). Every other packet leaving the interface is set to the pass class,
so a priority carried over from elsewhere can never send it to the sink. One lab-named table
per namespace and family, one chain per shaped interface: family inet for routed interfaces,
family bridge for bridge ports (whose frames never take the IP output path). The inet chain
hooks before the mangle table, so lost packets never reach the userspace shaper.
"""

from __future__ import annotations

import re

from lab.naming import NFT_TABLE_PREFIX
from lab.net.shaping.nsexec import run_in_netns

TABLE = f"{NFT_TABLE_PREFIX}shaping"
FAMILIES = ("inet", "bridge")
# Loss is drawn out of this many, so 0.01 % steps are exact.
RESOLUTION = 10_000
PRIORITY = -200
PASS_CLASS = "1:10"
LOSS_CLASS = "1:20"


def _chain(ifname: str) -> str:
    return "egress_" + re.sub(r"[^A-Za-z0-9_]", "_", ifname)


def _declare(family: str, ifname: str) -> str:
    return (
        f"add table {family} {TABLE}\n"
        f"add chain {family} {TABLE} {_chain(ifname)} "
        f"{{ type filter hook postrouting priority {PRIORITY}; policy accept; }}\n"
    )


def _delete(family: str, ifname: str) -> str:
    return _declare(family, ifname) + f"delete chain {family} {TABLE} {_chain(ifname)}\n"


def set_loss(netns: str, ifname: str, loss_pct: float, bridge_port: bool) -> None:
    """Sends loss_pct % of the packets leaving ifname to the loss sink (0 removes the rules)."""
    if loss_pct <= 0:
        clear_loss(netns, ifname)
        return
    family = "bridge" if bridge_port else "inet"
    chain = f"{family} {TABLE} {_chain(ifname)}"
    threshold = round(loss_pct * RESOLUTION / 100)
    match = f'oifname "{ifname}"'
    pick = "" if threshold >= RESOLUTION else f"numgen random mod {RESOLUTION} < {threshold} "
    script = "".join(_delete(f, ifname) for f in FAMILIES if f != family)
    script += _declare(family, ifname) + f"flush chain {chain}\n"
    script += f"add rule {chain} {match} meta priority set {PASS_CLASS}\n"
    script += f"add rule {chain} {match} {pick}counter meta priority set {LOSS_CLASS}\n"
    run_in_netns(netns, ["nft", "-f", "-"], stdin=script)


def clear_loss(netns: str, ifname: str) -> None:
    run_in_netns(netns, ["nft", "-f", "-"], stdin="".join(_delete(f, ifname) for f in FAMILIES))
