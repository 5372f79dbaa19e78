"""Kernel-side random loss on an interface's egress, for the nfqueue backend.

nft picks the packets (numgen random) and sets their priority to the htb class that ends in a
blackhole qdisc (see qdiscs). Every other packet leaving the interface is set to the pass class,
so a priority carried over from elsewhere can never send it to the sink. Table `icelab_shaping`:
family inet for routed interfaces, family bridge for bridge ports (whose frames never take the
IP output path); its base chain hooks before everything else, so lost packets never reach the
userspace shaper. Layout: see nft_script.
"""

from __future__ import annotations

from lab.naming import NFT_TABLE_PREFIX
from lab.net.shaping import nft_script

TABLE = f"{NFT_TABLE_PREFIX}shaping"
FAMILIES = ("inet", "bridge")
# Loss is drawn out of this many, so 0.01 % steps are exact.
RESOLUTION = 10_000
PRIORITY = -200
PASS_CLASS = "1:10"
LOSS_CLASS = "1:20"


def _chain(ifname: str) -> str:
    return f"loss_{nft_script.chain_suffix(ifname)}"


def set_loss(netns: str, ifname: str, loss_pct: float, bridge_port: bool) -> None:
    """Sends loss_pct % of the packets leaving ifname to the loss sink (0 removes the rules)."""
    if loss_pct <= 0:
        clear_loss(netns, ifname)
        return
    family = "bridge" if bridge_port else "inet"
    chain = f"{family} {TABLE} {_chain(ifname)}"
    threshold = round(loss_pct * RESOLUTION / 100)
    pick = "" if threshold >= RESOLUTION else f"numgen random mod {RESOLUTION} < {threshold} "
    nft_script.run(netns, (
        nft_script.base(family, TABLE, PRIORITY)
        + f"add chain {chain}\nflush chain {chain}\n"
        + f"add rule {chain} meta priority set {PASS_CLASS}\n"
        + f"add rule {chain} {pick}counter meta priority set {LOSS_CLASS}\n"
        + nft_script.dispatch(family, TABLE, ifname, _chain(ifname))
    ))


def clear_loss(netns: str, ifname: str) -> None:
    present = nft_script.tables(netns)
    nft_script.run(netns, "".join(
        nft_script.undispatch(family, TABLE, ifname, _chain(ifname))
        for family in FAMILIES if (family, TABLE) in present
    ))
