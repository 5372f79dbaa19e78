"""Steers an interface's egress packets (IPv4 and IPv6) to an NFQUEUE, for the userspace shaper.

nft's own `queue` statement is missing on some kernels (this CI's among them); the iptables
NFQUEUE target works through nft's xtables compatibility, so the rules live in iptables-nft's
`mangle` tables, in a chain named icelab-shp-<ifname>, jumped to from POSTROUTING.
A bridge port's frames are bridged, not routed: they reach POSTROUTING through br_netfilter
(bridge-nf-call-ip(6)tables, switched on here if it was off) and are matched with physdev.
No --queue-bypass: if the shaper died, the link goes dark rather than silently unshaped.
"""

from __future__ import annotations

from lab.net.shaping.nsexec import run_in_netns

TOOLS = (("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore"))
BRIDGE_SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")


def chain_name(ifname: str) -> str:
    return f"icelab-shp-{ifname}"


def _jumps(netns: str, save: str, ifname: str) -> tuple[bool, list[str]]:
    """(chain exists, the POSTROUTING rules that jump to it, as iptables-save prints them)."""
    dump = run_in_netns(netns, [save, "-t", "mangle"]).stdout.splitlines()
    chain = chain_name(ifname)
    exists = any(line.startswith(f":{chain} ") for line in dump)
    jumps = [l for l in dump if l.startswith("-A POSTROUTING ") and l.endswith(f" -j {chain}")]
    return exists, jumps


def _bridge_netfilter_on(netns: str) -> None:
    for key in BRIDGE_SYSCTLS:
        if run_in_netns(netns, ["sysctl", "-n", key]).stdout.strip() != "1":
            run_in_netns(netns, ["sysctl", "-q", "-w", f"{key}=1"])


def steer_to_queue(netns: str, ifname: str, queue_num: int, bridge_port: bool) -> None:
    if bridge_port:
        _bridge_netfilter_on(netns)
    match = f"-m physdev --physdev-out {ifname}" if bridge_port else f"-o {ifname}"
    for save, restore in TOOLS:
        _, jumps = _jumps(netns, save, ifname)
        lines = [
            "*mangle",
            f":{chain_name(ifname)} - [0:0]",  # declaring it flushes it
            f"-A {chain_name(ifname)} -j NFQUEUE --queue-num {queue_num}",
        ]
        lines += ["-D" + j[2:] for j in jumps]
        lines += [f"-A POSTROUTING {match} -j {chain_name(ifname)}", "COMMIT"]
        run_in_netns(netns, [restore, "--noflush"], stdin="\n".join(lines) + "\n")


def unsteer(netns: str, ifname: str) -> None:
    for save, restore in TOOLS:
        exists, jumps = _jumps(netns, save, ifname)
        lines = ["*mangle", *("-D" + j[2:] for j in jumps)]
        if exists:
            lines += [f"-F {chain_name(ifname)}", f"-X {chain_name(ifname)}"]
        if len(lines) > 1:
            lines.append("COMMIT")
            run_in_netns(netns, [restore, "--noflush"], stdin="\n".join(lines) + "\n")
