"""Two lab namespaces joined by one veth: the bench the shaping tests and benchmark measure on.

    a (10.77.0.1, veth "sa") <-----> (10.77.0.2, veth "sb") b

or, bridged (as a topology's WAN or LAN segment is), with the shaping on a bridge port:

    a (10.77.0.1, "sa") <--> ("pa") [bridge "br0" in ns br] ("pb") <--> (10.77.0.2, "sb") b

Nothing else is attached: no route leaves the pair. Tearing down clears the shaping, kills
anything still running in the two namespaces and removes them.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute, netns

from lab.naming import netns_name, netns_prefix
from lab.net.shaping.apply import clear_shaping


@dataclass(frozen=True)
class LinkPair:
    a: str
    b: str
    a_if: str = "sa"
    b_if: str = "sb"
    a_addr: str = "10.77.0.1"
    b_addr: str = "10.77.0.2"
    bridge: str | None = None  # namespace of the bridge, when bridged
    a_port: str = "pa"  # bridge port towards a
    b_port: str = "pb"  # bridge port towards b

    def namespaces(self) -> list[str]:
        return [self.a, self.b] + ([self.bridge] if self.bridge else [])


def pids_in_netns(name: str) -> list[int]:
    try:
        target = os.stat(f"/run/netns/{name}")
    except FileNotFoundError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            st = os.stat(entry / "ns" / "net")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
            found.append(int(entry.name))
    return found


def shaper_pids() -> list[int]:
    """Every live icelab-shaper process working in a lab namespace of the current scope."""
    prefix = netns_prefix().encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if state != "Z" and b"icelab-shaper" in argv and any(a.startswith(prefix) for a in argv):
            pids.append(int(entry.name))
    return pids


def build(pair: LinkPair) -> None:
    for name in pair.namespaces():
        netns.create(name)
    if pair.bridge is None:
        with IPRoute(netns=pair.a) as ipr:
            ipr.link("add", ifname=pair.a_if, kind="veth", peer={"ifname": pair.b_if, "net_ns_fd": pair.b})
    else:
        with IPRoute(netns=pair.bridge) as ipr:
            ipr.link("add", ifname="br0", kind="bridge")
            bridge = ipr.link_lookup(ifname="br0")[0]
            ipr.link("set", index=bridge, state="up")
            for port, ns, ifname in ((pair.a_port, pair.a, pair.a_if), (pair.b_port, pair.b, pair.b_if)):
                ipr.link("add", ifname=port, kind="veth", peer={"ifname": ifname, "net_ns_fd": ns})
                ipr.link("set", index=ipr.link_lookup(ifname=port)[0], master=bridge, state="up")
    for name, ifname, addr in ((pair.a, pair.a_if, pair.a_addr), (pair.b, pair.b_if, pair.b_addr)):
        with IPRoute(netns=name) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            index = ipr.link_lookup(ifname=ifname)[0]
            ipr.addr("add", index=index, address=addr, prefixlen=24)
            ipr.link("set", index=index, state="up")


def teardown(pair: LinkPair) -> None:
    ends = [(pair.a, pair.a_if), (pair.b, pair.b_if)]
    if pair.bridge:
        ends += [(pair.bridge, pair.a_port), (pair.bridge, pair.b_port)]
    for name, ifname in ends:
        with contextlib.suppress(Exception):  # the namespace goes anyway: kill and remove below
            clear_shaping(name, ifname)
    for name in pair.namespaces():
        for pid in pids_in_netns(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if os.path.exists(f"/run/netns/{name}"):
            netns.remove(name)


@contextlib.contextmanager
def link_pair(tag: str, bridged: bool = False) -> Iterator[LinkPair]:
    pair = LinkPair(
        a=netns_name(tag, "a"), b=netns_name(tag, "b"), bridge=netns_name(tag, "br") if bridged else None
    )
    try:
        build(pair)
        yield pair
    finally:
        teardown(pair)
