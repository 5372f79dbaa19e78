"""Wire a container into a running lab topology in place of a host's namespace.

The topology is built as usual (lab.net); then the host's interfaces (veth ends) move into the
container's network namespace, which takes over the host's namespace name in /run/netns. From
then on every lab.net operation on that host (impairments, routes, popen, captures) reaches the
container. Addresses, routes and sysctls are re-applied from the same plan the netns runtime
builds from, with lab.net's own functions, so both runtimes give a host the same network.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

from lab.errors import LabError
from lab.net import build, links, netns
from lab.net.worker import on_lab_thread
from lab.runtime.docker.containers import LabContainer

MS_BIND = 4096
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]


def _bind(source: str, target: str) -> None:
    if _libc.mount(source.encode(), target.encode(), None, MS_BIND, None) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"bind {source} on {target}: {os.strerror(code)}")


@on_lab_thread
def attach_container(net: Any, host: str, container: LabContainer) -> None:
    """Move `host`'s interfaces into the container; the host's namespace name then means it.

    Runs on the lab's network thread, where `net`'s netlink sockets live.
    """
    node = net.node(host)
    if node.kind != "host":
        raise LabError(f"{host} is a {node.kind}: only hosts run in containers")
    name = node.netns
    old = net.sockets[name]
    target = os.open(container.netns_path, os.O_RDONLY)
    try:
        for iface in node.ifaces.values():
            old.link("set", index=links.index(old, iface.name), net_ns_fd=target)
    finally:
        os.close(target)
    net.sockets.drop(name)
    # The name now points at the container's namespace; the old one, empty, goes away.
    netns.remove(name)
    fd = os.open(netns.path(name), os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    _bind(container.netns_path, str(netns.path(name)))
    links.write_sysctls(name, build.BASE_SYSCTLS)
    ipr = net.sockets[name]
    ipr.link("set", index=links.index(ipr, "lo"), state="up")
    for iface in node.ifaces.values():
        ifindex = links.index(ipr, iface.name)
        ipr.link("set", index=ifindex, state="up")
        links.add_addresses(ipr, ifindex, iface.addresses)
    links.apply_routes(ipr, node, fresh=True)
