"""Steers an interface's egress packets to an NFQUEUE, for the userspace shaper.

Table `icelab_delay`, families ip and ip6 (the physdev match below cannot run in family inet),
laid out as nft_script describes; each shaped interface's chain holds the xt NFQUEUE target,
added over netlink by nft_target (the nft tool can write neither that nor, on this kernel, a
`queue` statement). The base chain hooks postrouting at priority 300: after source NAT (100) and
before conntrack confirms a new flow, so a NAT router's mapping is chosen before the delay, as
with netem.
- Routed interfaces: the map sends `oifname` to chain queue_<if>.
- Bridge ports: their frames are bridged, not routed; br_netfilter (bridge-nf-call-ip(6)tables,
  switched on here if it was off) passes their IP packets through the same hook, but with the
  bridge as `oifname`, so the base chain jumps to every bport_<port> chain and each matches its
  port with xt physdev. (The bridge family cannot run the NFQUEUE target.) ARP is not delayed.
No queue bypass: if the shaper died, the link goes dark rather than silently unshaped.
"""

from __future__ import annotations

from lab.naming import NFT_TABLE_PREFIX
from lab.net.shaping import nft_script
from lab.net.shaping.nft_target import add_nfqueue_rule
from lab.net.shaping.nsexec import run_in_netns

TABLE = f"{NFT_TABLE_PREFIX}delay"
FAMILIES = ("ip", "ip6")
PRIORITY = 300
BRIDGE_SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")
BRIDGE_PORT_PREFIX = "bport_"


def queue_chain(ifname: str, bridge_port: bool = False) -> str:
    return ("bport_" if bridge_port else "queue_") + nft_script.chain_suffix(ifname)


def _port_jumps(chains: list[str], without: str) -> tuple[str, ...]:
    """The base chain's jumps to the bridge ports' chains that exist, but for one."""
    return tuple(f"jump {c}" for c in sorted(chains) if c.startswith(BRIDGE_PORT_PREFIX) and c != without)


def _chains(netns: str) -> list[str]:
    # both families always get the same chains: one listing serves both
    return nft_script.chains(netns, FAMILIES[0], TABLE)


def _bridge_netfilter_on(netns: str) -> None:
    for key in BRIDGE_SYSCTLS:
        if run_in_netns(netns, ["sysctl", "-n", key]).stdout.strip() != "1":
            run_in_netns(netns, ["sysctl", "-q", "-w", f"{key}=1"])


def steer_to_queue(netns: str, ifname: str, queue_num: int, bridge_port: bool) -> None:
    chain = queue_chain(ifname, bridge_port)
    if bridge_port:
        _bridge_netfilter_on(netns)
    others = _port_jumps(_chains(netns), without=chain)
    # the interface's chain, empty; nothing is sent to it yet
    nft_script.run(netns, "".join(
        nft_script.base(family, TABLE, PRIORITY, others)
        + f"add chain {family} {TABLE} {chain}\nflush chain {family} {TABLE} {chain}\n"
        for family in FAMILIES
    ))
    for family in FAMILIES:
        add_nfqueue_rule(netns, family, TABLE, chain, queue_num, physdev_out=ifname if bridge_port else None)
    # the shaper holds the queue and the chain its rule: now send the packets there
    if bridge_port:
        script = "".join(
            nft_script.base(family, TABLE, PRIORITY, (*others, f"jump {chain}"))
            for family in FAMILIES
        )
    else:
        script = "".join(nft_script.dispatch(family, TABLE, ifname, chain) for family in FAMILIES)
    nft_script.run(netns, script)


def unsteer(netns: str, ifname: str) -> None:
    chains = _chains(netns)
    if not chains:
        return  # no table: nothing was ever steered here
    routed, port = queue_chain(ifname), queue_chain(ifname, bridge_port=True)
    script = ""
    for family in FAMILIES:
        script += nft_script.undispatch(family, TABLE, ifname, routed)
        if port in chains:
            script += nft_script.base(family, TABLE, PRIORITY, _port_jumps(chains, without=port))
            script += f"delete chain {family} {TABLE} {port}\n"
    nft_script.run(netns, script)
