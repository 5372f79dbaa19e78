"""Steers an interface's egress packets (IPv4 and IPv6) to an NFQUEUE, for the userspace shaper.

nft's own `queue` statement is missing on some kernels (this CI's among them); the iptables
NFQUEUE target works through nft's xtables compatibility, so the rules live in iptables-nft's
`mangle` tables, in a chain named icelab-shp-<ifname>. No --queue-bypass: if the shaper died,
the link goes dark rather than silently unshaped.
"""

from __future__ import annotations

from lab.net.shaping.nsexec import run_in_netns

TOOLS = (("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore"))


def chain_name(ifname: str) -> str:
    return f"icelab-shp-{ifname}"


def _jump(ifname: str) -> str:
    return f"POSTROUTING -o {ifname} -j {chain_name(ifname)}"


def _present(netns: str, save: str, ifname: str) -> tuple[bool, bool]:
    """(chain exists, POSTROUTING jump exists)."""
    dump = run_in_netns(netns, [save, "-t", "mangle"]).stdout.splitlines()
    chain = any(line.startswith(f":{chain_name(ifname)} ") for line in dump)
    jump = f"-A {_jump(ifname)}" in dump
    return chain, jump


def steer_to_queue(netns: str, ifname: str, queue_num: int) -> None:
    for save, restore in TOOLS:
        _, jump = _present(netns, save, ifname)
        lines = [
            "*mangle",
            f":{chain_name(ifname)} - [0:0]",  # declaring it flushes it
            f"-A {chain_name(ifname)} -j NFQUEUE --queue-num {queue_num}",
        ]
        if not jump:
            lines.append(f"-A {_jump(ifname)}")
        lines.append("COMMIT")
        run_in_netns(netns, [restore, "--noflush"], stdin="\n".join(lines) + "\n")


def unsteer(netns: str, ifname: str) -> None:
    for save, restore in TOOLS:
        chain, jump = _present(netns, save, ifname)
        lines = ["*mangle"]
        if jump:
            lines.append(f"-D {_jump(ifname)}")
        if chain:
            lines += [f"-F {chain_name(ifname)}", f"-X {chain_name(ifname)}"]
        if len(lines) > 1:
            lines.append("COMMIT")
            run_in_netns(netns, [restore, "--noflush"], stdin="\n".join(lines) + "\n")
