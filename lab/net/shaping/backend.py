"""Which delay mechanism this kernel offers: netem, or the userspace shaper fed by NFQUEUE."""

from __future__ import annotations

import functools
import os
import shutil
from typing import Literal

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

from lab.errors import LabError
from lab.naming import netns_name

DelayBackend = Literal["netem", "nfqueue"]
# Forces a backend, e.g. ICELAB_DELAY_BACKEND=nfqueue to exercise the fallback on a netem host.
OVERRIDE_ENV = "ICELAB_DELAY_BACKEND"
NFQUEUE_TOOLS = ("nft", "sysctl")


def netem_available() -> bool:
    """Tries a netem qdisc on a veth in a throwaway lab namespace (never touches the host's)."""
    probe = netns_name("shpprobe", str(os.getpid()))
    netns.create(probe)
    try:
        with IPRoute(netns=probe) as ipr:
            ipr.link("add", ifname="probe0", kind="veth", peer="probe1")
            index = ipr.link_lookup(ifname="probe0")[0]
            try:
                ipr.tc("add", "netem", index, handle=0x10000, delay=1000)
            except NetlinkError:
                return False
            return True
    finally:
        netns.remove(probe)


@functools.cache
def delay_backend() -> DelayBackend:
    forced = os.environ.get(OVERRIDE_ENV, "").strip()
    if forced:
        if forced not in ("netem", "nfqueue"):
            raise LabError(f"{OVERRIDE_ENV}={forced!r}: expected 'netem' or 'nfqueue'")
        if forced == "netem" and not netem_available():
            raise LabError(f"{OVERRIDE_ENV}=netem, but this kernel has no netem qdisc")
        return forced  # type: ignore[return-value]
    return "netem" if netem_available() else "nfqueue"


def missing_nfqueue_tools() -> list[str]:
    """Tools the nfqueue backend shells out to that are not installed (for `icelab doctor`)."""
    return [tool for tool in NFQUEUE_TOOLS if shutil.which(tool) is None]
