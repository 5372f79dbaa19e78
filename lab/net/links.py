"""Netlink access to lab namespaces: one pyroute2 socket per namespace, sysctls, routes."""

from __future__ import annotations

import contextlib
import ipaddress
import threading
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lab.errors import LabError
from lab.net import netns
from lab.net.plan import NodePlan

# Policy routing of multi-homed hosts: table and rule priority of a host's k-th uplink.
TABLE_BASE = 100
RULE_PRIORITY_BASE = 1000
MAIN_TABLE = 254
FR_ACT_TO_TBL = 1
FR_ACT_UNREACHABLE = 7


class Sockets:
    """Open netlink sockets, one per namespace, created inside it and reused.

    Only usable from the thread that made it: a pyroute2 IPRoute used from another thread opens
    a fresh socket there, in whatever namespace that thread is in (the host's).
    """

    def __init__(self) -> None:
        self._open: dict[str, IPRoute] = {}
        self._thread: int | None = None

    def __getitem__(self, namespace: str) -> IPRoute:
        if self._thread is None:
            self._thread = threading.get_ident()
        elif self._thread != threading.get_ident():
            raise RuntimeError("lab netlink sockets used from a foreign thread (use lab.net.worker.on_lab_thread)")
        ipr = self._open.get(namespace)
        if ipr is None:
            with netns.entered(namespace):
                ipr = IPRoute()
            self._open[namespace] = ipr
        return ipr

    def drop(self, namespace: str) -> None:
        ipr = self._open.pop(namespace, None)
        if ipr is not None:
            with contextlib.suppress(Exception):
                ipr.close()

    def close(self) -> None:
        for namespace in list(self._open):
            self.drop(namespace)


def write_sysctls(namespace: str, values: dict[str, str]) -> None:
    with netns.entered(namespace):
        for key, value in values.items():
            Path("/proc/sys", key).write_text(value)


def index(ipr: IPRoute, ifname: str) -> int:
    try:
        return ipr.link("get", ifname=ifname)[0]["index"]
    except NetlinkError:
        raise LabError(f"no interface {ifname}") from None


def _split(cidr: str) -> tuple[str, int]:
    address, prefix = cidr.split("/")
    return address, int(prefix)


def add_addresses(ipr: IPRoute, ifindex: int, addresses: list[str]) -> None:
    for cidr in addresses:
        address, prefix = _split(cidr)
        ipr.addr("add", index=ifindex, address=address, prefixlen=prefix)


def addresses_of(ipr: IPRoute, ifindex: int) -> list[str]:
    """The interface's IPv4 addresses as "address/prefixlen"."""
    return [f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(family=2, index=ifindex)]


def del_address(ipr: IPRoute, ifindex: int, cidr: str) -> None:
    address, prefix = _split(cidr)
    with contextlib.suppress(NetlinkError):
        ipr.addr("del", index=ifindex, address=address, prefixlen=prefix)


def link_is_up(ipr: IPRoute, ifname: str) -> bool:
    link = ipr.get_links(index(ipr, ifname))[0]
    return bool(link["flags"] & 1)


def apply_routes(ipr: IPRoute, node: NodePlan, fresh: bool = False) -> None:
    """(Re)install the node's default routes and source rules from its plan; idempotent.

    fresh: the namespace was just built, there is nothing to remove first.
    """
    if not fresh:
        _remove_routes(ipr)
    _install_routes(ipr, node, fresh)


def _remove_routes(ipr: IPRoute) -> None:
    for route in ipr.get_routes(family=2, table=MAIN_TABLE):
        if route["dst_len"] == 0:
            with contextlib.suppress(NetlinkError):
                ipr.route("del", dst="0.0.0.0/0", table=MAIN_TABLE, priority=route.get_attr("RTA_PRIORITY"),
                          gateway=route.get_attr("RTA_GATEWAY"), oif=route.get_attr("RTA_OIF"))
    for rule in ipr.get_rules(family=2):
        priority = rule.get_attr("FRA_PRIORITY") or 0
        if RULE_PRIORITY_BASE <= priority < RULE_PRIORITY_BASE + 100:
            fields = {"priority": priority, "src": rule.get_attr("FRA_SRC"), "src_len": rule["src_len"],
                      "action": rule["action"]}
            if rule["action"] == FR_ACT_TO_TBL:
                fields["table"] = rule.get_attr("FRA_TABLE") or rule["table"]
            with contextlib.suppress(NetlinkError):
                ipr.rule("del", **fields)


def _install_routes(ipr: IPRoute, node: NodePlan, fresh: bool) -> None:
    uplinks = [iface for iface in node.ifaces.values() if iface.gateway]
    multihomed = node.kind == "host" and len(uplinks) > 1
    for k, iface in enumerate(uplinks):
        ifindex = index(ipr, iface.name)
        if not fresh and not link_is_up(ipr, iface.name):
            if multihomed:
                # a down uplink that kept its addresses: they must not leak out of another uplink
                for cidr in addresses_of(ipr, ifindex):
                    ipr.rule("add", priority=RULE_PRIORITY_BASE + 50 + k, action=FR_ACT_UNREACHABLE,
                             src=_split(cidr)[0], src_len=32)
            continue
        metric = iface.metric or 0
        if node.default_iface is not None and iface.name == node.default_iface:
            metric = 1
        ipr.route("replace", dst="0.0.0.0/0", gateway=iface.gateway, oif=ifindex, priority=metric, table=MAIN_TABLE)
        if multihomed:
            table = TABLE_BASE + k
            if not fresh:
                for route in ipr.get_routes(family=2, table=table):
                    with contextlib.suppress(NetlinkError):
                        ipr.route("del", table=table, dst=f"{route.get_attr('RTA_DST') or '0.0.0.0'}/{route['dst_len']}")
            primary, prefix = _split(iface.addresses[0])
            subnet = ipaddress.IPv4Network(f"{primary}/{prefix}", strict=False)
            ipr.route("replace", dst=str(subnet), oif=ifindex, table=table, scope=253, prefsrc=primary)
            ipr.route("replace", dst="0.0.0.0/0", gateway=iface.gateway, oif=ifindex, table=table)
            for cidr in iface.addresses:
                address, _ = _split(cidr)
                ipr.rule("add", priority=RULE_PRIORITY_BASE + k, table=table, src=address, src_len=32)
                # With the uplink down its table is empty: its address must not leak out of another uplink.
                ipr.rule("add", priority=RULE_PRIORITY_BASE + 50 + k, action=FR_ACT_UNREACHABLE,
                         src=address, src_len=32)
