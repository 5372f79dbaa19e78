"""Resolve a validated topology into concrete namespaces, interfaces, addresses and routes.

The plan is plain data: the builder executes it, the state file stores it, `topo show` prints it.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel

from lab import naming
from lab.errors import LabError
from lab.net.model import AddrOnDown, GraphError, NatType, TopologySpec

WAN_BRIDGE = "br0"
LAN_BRIDGE = "lan"
UPLINK = "wan"
CGNAT_LAN = "100.64.0.0/10"


class IfacePlan(BaseModel):
    name: str
    addresses: list[str] = []  # "address/prefixlen"; the first is the primary
    gateway: str | None = None  # default route via this gateway (hosts and routers)
    metric: int | None = None
    peer: str | None = None  # node at the other end (for veths) or None for bridges
    master: str | None = None  # bridge this interface is a port of
    addr_on_down: AddrOnDown = "remove"  # lab.net.impair.link_down: drop the addresses or keep them


class NodePlan(BaseModel):
    name: str
    kind: Literal["wan", "router", "host"]
    netns: str
    role: str | None = None
    ifaces: dict[str, IfacePlan] = {}
    nat: NatType | None = None
    udp_timeout: int | None = None
    hairpin: bool = False
    subnet: str | None = None  # WAN subnet, or a router's LAN subnet
    default_iface: str | None = None  # host: preferred uplink (set_default_route)

    @property
    def lan_is_bridge(self) -> bool:
        return self.kind == "router" and self.ifaces[LAN_BRIDGE].peer is None

    def primary_iface(self) -> IfacePlan:
        if self.kind == "router":
            return self.ifaces[UPLINK]
        candidates = [i for i in self.ifaces.values() if i.addresses and i.master is None]
        if not candidates:
            raise KeyError(f"{self.name} has no addressed interface")
        if self.default_iface and self.default_iface in self.ifaces:
            return self.ifaces[self.default_iface]
        return min(candidates, key=lambda i: i.metric or 0)


class VethPlan(BaseModel):
    outer_node: str  # the WAN or router side (port of its bridge)
    outer_name: str
    outer_master: str | None  # None: the outer end is the router's LAN interface itself
    inner_node: str  # the host or the downstream router
    inner_name: str
    shaping: dict[str, float | int | None] | None = None  # LinkShaping fields, both ends


class Plan(BaseModel):
    name: str
    scope: str
    nodes: dict[str, NodePlan]
    veths: list[VethPlan]
    spec: dict

    def namespaces(self) -> list[str]:
        return [node.netns for node in self.nodes.values()]

    def node(self, node: str) -> NodePlan:
        try:
            return self.nodes[node]
        except KeyError:
            raise LabError(f"topology {self.name!r} has no node {node!r}") from None

    def iface(self, node: str, iface: str | None = None) -> IfacePlan:
        """node's interface `iface`, or its primary (first addressed) one."""
        plan = self.node(node)
        if iface is None:
            try:
                return plan.primary_iface()
            except KeyError:
                raise LabError(f"{node} has no addressed interface") from None
        try:
            return plan.ifaces[iface]
        except KeyError:
            raise LabError(f"{node} has no interface {iface!r} (has {', '.join(plan.ifaces)})") from None


class _Pool:
    """Addresses of one subnet: explicit ones reserved first, then handed out in order."""

    def __init__(self, subnet: str, key: str) -> None:
        self.network = ipaddress.IPv4Network(subnet)
        self.key = key
        self.used: set[ipaddress.IPv4Address] = set()
        self._cursor = self.network.hosts()

    def reserve(self, address: str, key: str) -> str:
        ip = ipaddress.IPv4Address(address)
        if ip not in self.network or ip in (self.network.network_address, self.network.broadcast_address):
            raise GraphError(key, f"address {address} is not a host address of {self.network}")
        if ip in self.used:
            raise GraphError(key, f"address {address} is used twice in {self.network}")
        self.used.add(ip)
        return self.cidr(ip)

    def take(self) -> str:
        for ip in self._cursor:
            if ip not in self.used:
                self.used.add(ip)
                return self.cidr(ip)
        raise GraphError(self.key, f"subnet {self.network} has no free address left")

    def cidr(self, ip: ipaddress.IPv4Address) -> str:
        return f"{ip}/{self.network.prefixlen}"


def resolve(spec: TopologySpec, name: str) -> Plan:
    nodes: dict[str, NodePlan] = {}
    pools: dict[str, _Pool] = {}
    veths: list[VethPlan] = []
    gateway_of: dict[str, str] = {}

    for wan_name, wan in spec.wan.items():
        nodes[wan_name] = NodePlan(
            name=wan_name, kind="wan", netns=naming.netns_name(name, wan_name), subnet=wan.subnet,
            ifaces={WAN_BRIDGE: IfacePlan(name=WAN_BRIDGE)},
        )
        pools[wan_name] = _Pool(wan.subnet, f"wan.{wan_name}.subnet")

    upstream_routers = {link.b for link in spec.links if link.a in spec.routers and link.b in spec.routers}
    home_index = 0
    for router_name, router in spec.routers.items():
        if router.lan is not None:
            lan = router.lan
        elif router_name in upstream_routers:
            lan = CGNAT_LAN
        else:
            home_index += 1
            lan = f"192.168.{home_index}.0/24"
        pool = _Pool(lan, f"routers.{router_name}.lan")
        if pool.network.num_addresses < 4:
            raise GraphError(f"routers.{router_name}.lan", f"LAN subnet {lan} is too small")
        pools[router_name] = pool
        lan_address = pool.take()
        gateway_of[router_name] = lan_address.split("/")[0]
        nodes[router_name] = NodePlan(
            name=router_name, kind="router", netns=naming.netns_name(name, router_name),
            nat=router.nat, udp_timeout=router.udp_timeout, hairpin=router.hairpin, subnet=lan,
            ifaces={LAN_BRIDGE: IfacePlan(name=LAN_BRIDGE, addresses=[lan_address])},
        )

    for host_name, host in spec.hosts.items():
        nodes[host_name] = NodePlan(
            name=host_name, kind="host", netns=naming.netns_name(name, host_name), role=host.role,
        )

    # Explicit addresses first so automatic ones never collide with them.
    for i, link in enumerate(spec.links):
        for address in link.address or []:
            pools[link.b].reserve(address, f"links[{i}].address")

    port_count: dict[str, int] = {}
    lan_size = {name: sum(1 for link in spec.links if link.b == name) for name in spec.routers}
    for link in spec.links:
        pool = pools[link.b]
        if link.address:
            addresses = [pool.cidr(ipaddress.IPv4Address(a)) for a in link.address]
        else:
            addresses = [pool.take() for _ in range(link.addresses)]
        inner = nodes[link.a]
        outer = nodes[link.b]
        if inner.kind == "router":
            iface_name = "wan"
            metric = None
        else:
            iface_name = link.iface or f"eth{len(inner.ifaces)}"
            metric = link.metric or 100 * (len(inner.ifaces) + 1)
        inner.ifaces[iface_name] = IfacePlan(
            name=iface_name, addresses=addresses, gateway=gateway_of.get(link.b), metric=metric, peer=link.b,
            addr_on_down=link.addr_on_down,
        )
        index = port_count.get(link.b, 0)
        port_count[link.b] = index + 1
        master: str | None
        if outer.kind == "wan":
            master, port = WAN_BRIDGE, f"p{index}"
            outer.ifaces[port] = IfacePlan(name=port, peer=link.a, master=master)
        elif lan_size[link.b] == 1:
            # A LAN with one node needs no bridge: the veth end is the router's LAN interface
            # (and its egress can be shaped like any routed interface).
            master, port = None, LAN_BRIDGE
            outer.ifaces[LAN_BRIDGE].peer = link.a
        else:
            master, port = LAN_BRIDGE, f"l{index}"
            outer.ifaces[port] = IfacePlan(name=port, peer=link.a, master=master)
        veths.append(VethPlan(
            outer_node=link.b, outer_name=port, outer_master=master, inner_node=link.a, inner_name=iface_name,
            shaping=link.model_dump(include={"delay_ms", "jitter_ms", "loss_pct", "rate_kbit"}) if link.shaped else None,
        ))

    return Plan(name=name, scope=naming.scope(), nodes=nodes, veths=veths, spec=spec.model_dump(exclude_none=True))


def free_address(plan: Plan, node: str) -> str:
    """An unused address in the subnet a WAN or router hands out (for renumbering, NAT reboot)."""
    owner = plan.nodes[node]
    assert owner.subnet is not None
    network = ipaddress.IPv4Network(owner.subnet)
    used = {
        ipaddress.IPv4Address(address.split("/")[0])
        for n in plan.nodes.values()
        for iface in n.ifaces.values()
        for address in iface.addresses
    }
    for ip in reversed(list(network.hosts())) if network.num_addresses <= 4096 else network.hosts():
        if ip not in used:
            return f"{ip}/{network.prefixlen}"
    raise GraphError(node, f"subnet {network} has no free address left")
