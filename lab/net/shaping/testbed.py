"""Two lab namespaces joined by one veth: the bench the shaping tests and benchmark measure on.

    a (10.77.0.1, veth "sa") <-----> (10.77.0.2, veth "sb") b

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
    netns.create(pair.a)
    netns.create(pair.b)
    with IPRoute(netns=pair.a) as ipr:
        ipr.link("add", ifname=pair.a_if, kind="veth", peer={"ifname": pair.b_if, "net_ns_fd": pair.b})
    for name, ifname, addr in ((pair.a, pair.a_if, pair.a_addr), (pair.b, pair.b_if, pair.b_addr)):
        with IPRoute(netns=name) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            index = ipr.link_lookup(ifname=ifname)[0]
            ipr.addr("add", index=index, address=addr, prefixlen=24)
            ipr.link("set", index=index, state="up")


def teardown(pair: LinkPair) -> None:
    for name, ifname in ((pair.a, pair.a_if), (pair.b, pair.b_if)):
        with contextlib.suppress(Exception):  # the namespace goes anyway: kill and remove below
            clear_shaping(name, ifname)
    for name in (pair.a, pair.b):
        for pid in pids_in_netns(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if os.path.exists(f"/run/netns/{name}"):
            netns.remove(name)


@contextlib.contextmanager
def link_pair(tag: str) -> Iterator[LinkPair]:
    pair = LinkPair(a=netns_name(tag, "a"), b=netns_name(tag, "b"))
    try:
        build(pair)
        yield pair
    finally:
        teardown(pair)
