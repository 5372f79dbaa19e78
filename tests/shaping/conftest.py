"""A minimal pair of lab namespaces joined by one veth, built here with pyroute2.

    a (10.77.0.1, veth "sa") <-----> (10.77.0.2, veth "sb") b

Teardown clears the shaping, kills anything still running in the two namespaces and removes
them, also when the test failed.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyroute2 import IPRoute, netns

from lab.naming import netns_name
from lab.net.shaping import clear_shaping

_counter = itertools.count()


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
    """Every icelab-shaper process on the machine that belongs to this test run's namespaces."""
    prefix = netns_name("shp", "").rsplit("shp", 1)[0].encode()
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


def _build(pair: LinkPair) -> None:
    netns.create(pair.a)
    netns.create(pair.b)
    with IPRoute(netns=pair.a) as ipr:
        ipr.link("add", ifname=pair.a_if, kind="veth", peer={"ifname": pair.b_if, "net_ns_fd": pair.b})
    for name, ifname, addr in ((pair.a, pair.a_if, pair.a_addr), (pair.b, pair.b_if, pair.b_addr)):
        with IPRoute(netns=name) as ipr:
            lo = ipr.link_lookup(ifname="lo")[0]
            ipr.link("set", index=lo, state="up")
            index = ipr.link_lookup(ifname=ifname)[0]
            ipr.addr("add", index=index, address=addr, prefixlen=24)
            ipr.link("set", index=index, state="up")


def _teardown(pair: LinkPair) -> None:
    for name, ifname in ((pair.a, pair.a_if), (pair.b, pair.b_if)):
        try:
            clear_shaping(name, ifname)
        except Exception:  # the namespace is going anyway; kill and remove below
            pass
    for name in (pair.a, pair.b):
        for pid in pids_in_netns(name):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if os.path.exists(f"/run/netns/{name}"):
            netns.remove(name)


@pytest.fixture
def link_pair() -> Iterator[LinkPair]:
    tag = f"shp{os.getpid() % 10000}x{next(_counter)}"
    pair = LinkPair(a=netns_name(tag, "a"), b=netns_name(tag, "b"))
    try:
        _build(pair)
        yield pair
    finally:
        _teardown(pair)


@pytest.fixture(autouse=True)
def no_shaper_left_behind() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 5
    while shaper_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shaper_pids() == [], "an icelab-shaper process outlived its test"
