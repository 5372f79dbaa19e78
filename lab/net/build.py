"""Build a plan as namespaces, bridges, veths, addresses, routes and NAT rules; tear it down."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

from lab.net import links, nat, netns, nft
from lab.net.plan import LAN_BRIDGE, UPLINK, WAN_BRIDGE, NodePlan, Plan

BASE_SYSCTLS = {
    "net/ipv6/conf/all/disable_ipv6": "1",
    "net/ipv6/conf/default/disable_ipv6": "1",
    # strict reverse-path filtering (RFC 3704) on hosts and routers: a packet whose source is
    # not routed back out of the interface it came in on is dropped (a stale or foreign source)
    "net/ipv4/conf/all/rp_filter": "1",
    "net/ipv4/conf/default/rp_filter": "1",
}


def build(plan: Plan, sockets: links.Sockets, adopt: dict[str, int] | None = None) -> None:
    """Create everything in the plan. On failure, the caller tears down `plan.namespaces()`.

    adopt: host -> pid whose network namespace becomes the host's (a container's, say).
    """
    adopt = adopt or {}
    for node in plan.nodes.values():
        if node.name in adopt:
            netns.adopt(node.netns, adopt[node.name])
        else:
            netns.create(node.netns)
    for node in plan.nodes.values():
        sysctls = dict(BASE_SYSCTLS)
        if node.kind == "router":
            sysctls["net/ipv4/ip_forward"] = "1"
            sysctls.update(nat.conntrack_sysctls(node.udp_timeout or 30))
        links.write_sysctls(node.netns, sysctls)
        ipr = sockets[node.netns]
        ipr.link("set", index=links.index(ipr, "lo"), state="up")
        if node.kind == "wan":
            _bridge(ipr, WAN_BRIDGE, [])
        elif node.lan_is_bridge:
            _bridge(ipr, LAN_BRIDGE, node.ifaces[LAN_BRIDGE].addresses)
    for veth in plan.veths:
        outer = plan.nodes[veth.outer_node]
        inner = plan.nodes[veth.inner_node]
        ipr = sockets[outer.netns]
        fd = netns.open_fd(inner.netns)
        try:
            ipr.link("add", ifname=veth.outer_name, kind="veth", peer={"ifname": veth.inner_name, "net_ns_fd": fd})
        finally:
            os.close(fd)
        outer_index = links.index(ipr, veth.outer_name)
        if veth.outer_master is not None:
            ipr.link("set", index=outer_index, master=links.index(ipr, veth.outer_master), state="up")
        else:
            ipr.link("set", index=outer_index, state="up")
            links.add_addresses(ipr, outer_index, outer.ifaces[veth.outer_name].addresses)
        inner_ipr = sockets[inner.netns]
        iface = inner.ifaces[veth.inner_name]
        ifindex = links.index(inner_ipr, veth.inner_name)
        inner_ipr.link("set", index=ifindex, state="up")
        links.add_addresses(inner_ipr, ifindex, iface.addresses)
    for node in plan.nodes.values():
        if node.kind in ("host", "router"):
            links.apply_routes(sockets[node.netns], node, fresh=True)
    for node in plan.nodes.values():
        if node.kind == "router":
            install_nat(node, replace=False)


def _bridge(ipr: links.IPRoute, name: str, addresses: list[str]) -> None:
    ipr.link("add", ifname=name, kind="bridge")
    ifindex = links.index(ipr, name)
    ipr.link("set", index=ifindex, state="up")
    links.add_addresses(ipr, ifindex, addresses)


def public_address(router: NodePlan) -> str:
    return router.ifaces[UPLINK].addresses[0].split("/")[0]


def install_nat(router: NodePlan, replace: bool = True) -> None:
    script = nat.ruleset(
        router.nat or "none", public_address(router), router.udp_timeout or 30, router.hairpin,
        wan=UPLINK, lan=LAN_BRIDGE, lan_subnet=router.subnet or "0.0.0.0/0",
        replace=replace,
    )
    nft.run(router.netns, script)


def teardown(namespaces: Iterable[str], sockets: links.Sockets | None = None) -> None:
    """Kill every process inside the namespaces, then delete them (idempotent)."""
    names = [name for name in namespaces if netns.exists(name)]
    if sockets is not None:
        sockets.close()
    netns.kill_all_in(names)
    for name in names:
        with contextlib.suppress(OSError):
            netns.remove(name)
