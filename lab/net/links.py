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

    Make before break, as on a real host: what the plan wants is installed first (routes
    replaced, missing rules added), then what it no longer wants is removed. A route that stays
    (LTE's, while Wi-Fi goes down) is never missing, not even for an instant: removing everything
    and installing it again left a phone without a default route for a few milliseconds, and a
    TCP handshake or a check sent across LTE then was lost.

    fresh: the namespace was just built, there is nothing to compare with or remove.
    """
    routes, rules, tables = _wanted(ipr, node, fresh)
    for route in routes:
        ipr.route("replace", **route)
    present = set() if fresh else {_rule_key(fields) for fields in _lab_rules(ipr)}
    for rule in rules:
        if _rule_key(rule) not in present:
            ipr.rule("add", **rule)
    if fresh:
        return
    defaults = {(r["gateway"], r["oif"], r["priority"]) for r in routes if r["table"] == MAIN_TABLE}
    for route in ipr.get_routes(family=2, table=MAIN_TABLE):
        key = (route.get_attr("RTA_GATEWAY"), route.get_attr("RTA_OIF"), route.get_attr("RTA_PRIORITY") or 0)
        if route["dst_len"] == 0 and key not in defaults:
            with contextlib.suppress(NetlinkError):
                ipr.route("del", dst="0.0.0.0/0", table=MAIN_TABLE, priority=key[2], gateway=key[0], oif=key[1])
    for table, keep in tables.items():
        for route in ipr.get_routes(family=2, table=table):
            dst = (route.get_attr("RTA_DST") or "0.0.0.0", route["dst_len"])
            if dst not in keep:
                with contextlib.suppress(NetlinkError):
                    ipr.route("del", table=table, dst=f"{dst[0]}/{dst[1]}")
    wanted = {_rule_key(rule) for rule in rules}
    for fields in _lab_rules(ipr):
        if _rule_key(fields) not in wanted:
            with contextlib.suppress(NetlinkError):
                ipr.rule("del", **fields)


Route = dict[str, object]


def _wanted(ipr: IPRoute, node: NodePlan, fresh: bool) -> tuple[list[Route], list[Route], dict[int, set[tuple[str, int]]]]:
    """The routes and source rules the plan wants now, and each uplink table's (dst, len) set."""
    routes: list[Route] = []
    rules: list[Route] = []
    tables: dict[int, set[tuple[str, int]]] = {}
    uplinks = [iface for iface in node.ifaces.values() if iface.gateway]
    multihomed = node.kind == "host" and len(uplinks) > 1
    for k, iface in enumerate(uplinks):
        ifindex = index(ipr, iface.name)
        table = TABLE_BASE + k
        if multihomed:
            tables[table] = set()
        if not fresh and not link_is_up(ipr, iface.name):
            if multihomed:
                # a down uplink that kept its addresses: they must not leak out of another uplink
                for cidr in addresses_of(ipr, ifindex):
                    rules.append({"priority": RULE_PRIORITY_BASE + 50 + k, "action": FR_ACT_UNREACHABLE,
                                  "src": _split(cidr)[0], "src_len": 32})
            continue
        metric = iface.metric or 0
        if node.default_iface is not None and iface.name == node.default_iface:
            metric = 1
        routes.append({"dst": "0.0.0.0/0", "gateway": iface.gateway, "oif": ifindex, "priority": metric,
                       "table": MAIN_TABLE})
        if multihomed:
            primary, prefix = _split(iface.addresses[0])
            subnet = ipaddress.IPv4Network(f"{primary}/{prefix}", strict=False)
            routes.append({"dst": str(subnet), "oif": ifindex, "table": table, "scope": 253, "prefsrc": primary})
            routes.append({"dst": "0.0.0.0/0", "gateway": iface.gateway, "oif": ifindex, "table": table})
            tables[table] = {(str(subnet.network_address), subnet.prefixlen), ("0.0.0.0", 0)}
            for cidr in iface.addresses:
                address, _ = _split(cidr)
                rules.append({"priority": RULE_PRIORITY_BASE + k, "table": table, "src": address, "src_len": 32,
                              "action": FR_ACT_TO_TBL})
                # With the uplink down its table is empty: its address must not leak out of another uplink.
                rules.append({"priority": RULE_PRIORITY_BASE + 50 + k, "action": FR_ACT_UNREACHABLE,
                              "src": address, "src_len": 32})
    return routes, rules, tables


def _lab_rules(ipr: IPRoute) -> list[Route]:
    """The source rules in the lab's priority range, as the fields that delete each."""
    found: list[Route] = []
    for rule in ipr.get_rules(family=2):
        priority = rule.get_attr("FRA_PRIORITY") or 0
        if RULE_PRIORITY_BASE <= priority < RULE_PRIORITY_BASE + 100:
            fields: Route = {"priority": priority, "src": rule.get_attr("FRA_SRC"), "src_len": rule["src_len"],
                             "action": rule["action"]}
            if rule["action"] == FR_ACT_TO_TBL:
                fields["table"] = rule.get_attr("FRA_TABLE") or rule["table"]
            found.append(fields)
    return found


def _rule_key(fields: Route) -> tuple[object, ...]:
    return (fields["priority"], fields["src"], fields["src_len"], fields["action"], fields.get("table"))
