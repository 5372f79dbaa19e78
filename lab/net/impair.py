"""Impairments applied to a running network at runtime; each is quick and idempotent.

Blackholes are nftables set elements with a timeout, so the kernel lifts a timed blackhole
itself, on time, even if the orchestrator dies. Delay, jitter, loss and rate are delegated to
lab.net.shaping (netem where the kernel has it, a userspace shaper where it does not).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import subprocess
import time
from typing import Protocol

from lab.errors import LabError
from lab.naming import NFT_TABLE_PREFIX
from lab.net import build, links, netns, nft
from lab.net.nat_behaviour import EIM_NAT_TYPES, NAT_TYPES
from lab.net.plan import UPLINK, IfacePlan, NodePlan, Plan, free_address
from lab.net.worker import on_lab_thread


class ImpairedNetwork(Protocol):
    """What impairments need of a running network (lab.net.network.Network)."""

    plan: Plan
    sockets: links.Sockets

    def node(self, node: str) -> NodePlan: ...

    def netns(self, node: str) -> str: ...

    def iface(self, node: str, iface: str | None = None) -> IfacePlan: ...

    def _save(self) -> None: ...

IMPAIR_TABLE = f"{NFT_TABLE_PREFIX}impair"

_IMPAIR_TABLE_SCRIPT = f"""
table inet {IMPAIR_TABLE} {{
  set blackhole_all {{ type ifname; flags timeout; }}
  set blackhole_udp {{ type ifname; flags timeout; }}
  chain inbound {{
    type filter hook prerouting priority raw - 10; policy accept;
    iifname @blackhole_all drop
    meta l4proto udp iifname @blackhole_udp drop
  }}
  chain outbound {{
    type filter hook postrouting priority 300; policy accept;
    oifname @blackhole_all drop
    meta l4proto udp oifname @blackhole_udp drop
  }}
}}
"""


class Impairments:
    def __init__(self, network: ImpairedNetwork) -> None:
        self.net = network

    # -- links and addresses ---------------------------------------------------------------
    @on_lab_thread
    def link_down(self, host: str, iface: str, addr_on_down: str | None = None) -> tuple[float, float]:
        """Take the interface down. Its addresses go too (as an OS or a DHCP release does) unless
        `addr_on_down` (default: the link's setting in the topology) is "keep"; the routes and
        source rules of a removed address go with it. link_up restores all of them.

        Returns the monotonic instants around the netlink call that set the link down (the
        instant connectivity was removed; the address and route clean-up follows it)."""
        node = self.net.node(host)
        plan_iface = self.net.iface(host, iface)
        mode = addr_on_down or plan_iface.addr_on_down
        if mode not in ("remove", "keep"):
            raise LabError(f"link_down {host}.{iface}: addr_on_down must be 'remove' or 'keep', not {mode!r}")
        ipr = self.net.sockets[node.netns]
        ifindex = links.index(ipr, iface)
        t0 = time.monotonic()
        ipr.link("set", index=ifindex, state="down")
        t1 = time.monotonic()
        if mode == "remove":
            for cidr in plan_iface.addresses:
                links.del_address(ipr, ifindex, cidr)
        if node.kind != "wan":
            links.apply_routes(ipr, node)
        return t0, t1

    @on_lab_thread
    def link_up(self, host: str, iface: str) -> None:
        node = self.net.node(host)
        plan_iface = self.net.iface(host, iface)
        ipr = self.net.sockets[node.netns]
        ifindex = links.index(ipr, iface)
        ipr.link("set", index=ifindex, state="up")
        present = set(links.addresses_of(ipr, ifindex))
        links.add_addresses(ipr, ifindex, [cidr for cidr in plan_iface.addresses if cidr not in present])
        if node.kind != "wan":
            links.apply_routes(ipr, node)

    @on_lab_thread
    def renumber(self, host: str, iface: str, new_address: str) -> str:
        """Replace the interface's primary address (same prefix length unless given); returns it."""
        node = self.net.node(host)
        plan_iface = self.net.iface(host, iface)
        old = plan_iface.addresses[0]
        new = new_address if "/" in new_address else f"{new_address}/{old.split('/')[1]}"
        try:
            ipaddress.IPv4Interface(new)
        except ValueError:
            raise LabError(f"renumber {host}.{iface}: not an IPv4 address: {new_address!r}") from None
        if new == old:
            return new.split("/")[0]
        ipr = self.net.sockets[node.netns]
        ifindex = links.index(ipr, iface)
        links.del_address(ipr, ifindex, old)
        links.add_addresses(ipr, ifindex, [new])
        plan_iface.addresses[0] = new
        links.apply_routes(ipr, node)
        self.net._save()
        return new.split("/")[0]

    @on_lab_thread
    def set_default_route(self, host: str, iface: str | None) -> None:
        """Send the host's unbound traffic out of `iface` (None: back to the configured metrics)."""
        node = self.net.node(host)
        if iface is not None:
            if not self.net.iface(host, iface).gateway:
                raise LabError(f"{host}.{iface} has no gateway to route through")
        node.default_iface = iface
        links.apply_routes(self.net.sockets[node.netns], node)
        self.net._save()

    # -- blackholes ------------------------------------------------------------------------
    @on_lab_thread
    def blackhole(self, node: str, iface: str, udp_only: bool = False, duration: float | None = None) -> None:
        """Drop everything (or only UDP) entering and leaving the interface, for `duration` s or until lifted."""
        ns = self.net.netns(node)
        self.net.iface(node, iface)
        which = "blackhole_udp" if udp_only else "blackhole_all"
        timeout = f" timeout {max(1, round(duration * 1000))}ms" if duration is not None else ""
        element = f'add element inet {IMPAIR_TABLE} {which} {{ "{iface}"{timeout} }}\n'
        # Re-adding an element does not refresh it; delete it first so the new duration counts.
        with contextlib.suppress(nft.NftError):
            nft.run(ns, f'delete element inet {IMPAIR_TABLE} {which} {{ "{iface}" }}\n')
        try:
            nft.run(ns, element)
        except nft.NftError:
            nft.run(ns, _IMPAIR_TABLE_SCRIPT + element)

    @on_lab_thread
    def unblackhole(self, node: str, iface: str) -> None:
        ns = self.net.netns(node)
        for which in ("blackhole_all", "blackhole_udp"):
            with contextlib.suppress(nft.NftError):
                nft.run(ns, f'delete element inet {IMPAIR_TABLE} {which} {{ "{iface}" }}\n')

    # -- NAT -------------------------------------------------------------------------------
    def _router(self, router: str) -> NodePlan:
        node = self.net.node(router)
        if node.kind != "router":
            raise LabError(f"{router} is not a router")
        return node

    @on_lab_thread
    def flush_bindings(self, router: str, host: str | None = None) -> None:
        """Forget the router's NAT bindings: all of them, or those of one LAN host."""
        node = self._router(router)
        if host is None:
            self._conntrack(node.netns, ["-F"])
            self._flush_mapping_sets(node.netns, None)
            return
        for address in self._lan_addresses(router, host):
            self._conntrack(node.netns, ["-D", "-s", address])
            self._conntrack(node.netns, ["-D", "-d", address])
            self._flush_mapping_sets(node.netns, address)

    def _lan_addresses(self, router: str, host: str) -> list[str]:
        node = self.net.node(host)
        found = [a.split("/")[0] for i in node.ifaces.values() if i.peer == router for a in i.addresses]
        if not found:
            raise LabError(f"{host} is not on {router}'s LAN")
        return found

    @staticmethod
    def _conntrack(namespace: str, args: list[str]) -> None:
        # `conntrack -D` exits 1 when nothing matched: not an error here.
        netns.popen(namespace, ["conntrack", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).wait()

    @staticmethod
    def _flush_mapping_sets(namespace: str, address: str | None) -> None:
        from lab.net.nat import NAT_TABLE

        try:
            objects = nft.list_json(namespace, f"table ip {NAT_TABLE}")
        except nft.NftError:
            return
        commands = []
        for obj in objects:
            entry = obj.get("map") or obj.get("set")
            if not entry:
                continue
            kind = "map" if "map" in obj else "set"
            if address is None:
                commands.append(f"flush {kind} ip {NAT_TABLE} {entry['name']}")
                continue
            for element in entry.get("elem", []):
                if address in json.dumps(element):
                    key = element[0] if kind == "map" else element
                    commands.append(f"delete element ip {NAT_TABLE} {entry['name']} {{ {_nft_key(key)} }}")
        if commands:
            with contextlib.suppress(nft.NftError):
                nft.run(namespace, "\n".join(commands) + "\n")

    @on_lab_thread
    def nat_reboot(self, router: str) -> str:
        """Flush all bindings and take a new public address; returns the new address."""
        node = self._router(router)
        uplink = node.ifaces[UPLINK]
        assert uplink.peer is not None
        new = free_address(self.net.plan, uplink.peer)
        ipr = self.net.sockets[node.netns]
        ifindex = links.index(ipr, UPLINK)
        links.del_address(ipr, ifindex, uplink.addresses[0])
        links.add_addresses(ipr, ifindex, [new])
        uplink.addresses[0] = new
        links.apply_routes(ipr, node)
        build.install_nat(node)
        self.flush_bindings(router)
        self.net._save()
        return new.split("/")[0]

    @on_lab_thread
    def set_nat_type(self, router: str, nat: str, flush: bool = True) -> None:
        if nat not in NAT_TYPES:
            raise LabError(f"unknown NAT type {nat!r} (one of {', '.join(NAT_TYPES)})")
        node = self._router(router)
        node.nat = nat  # type: ignore[assignment]
        if node.hairpin and nat not in EIM_NAT_TYPES:
            node.hairpin = False
        build.install_nat(node)
        if flush:
            self.flush_bindings(router)
        self.net._save()

    @on_lab_thread
    def set_udp_timeout(self, router: str, seconds: int) -> None:
        from lab.net.nat import conntrack_sysctls

        node = self._router(router)
        node.udp_timeout = seconds
        links.write_sysctls(node.netns, conntrack_sysctls(seconds))
        build.install_nat(node)
        self.net._save()

    # -- delay, jitter, loss, rate (delegated to lab.net.shaping) --------------------------
    @on_lab_thread
    def shape(self, node: str, iface: str, *, delay_ms: float = 0, jitter_ms: float = 0,
              loss_pct: float = 0, rate_kbit: int | None = None, both_directions: bool = True) -> None:
        """Set the whole shaping of node.iface's egress and, if both_directions, of the link's other end."""
        from lab.net import shaping

        settings = shaping.LinkShaping(delay_ms=delay_ms, jitter_ms=jitter_ms, loss_pct=loss_pct, rate_kbit=rate_kbit)
        for ns, ifname in self._link_ends(node, iface, both_directions):
            shaping.apply_shaping(ns, ifname, settings)

    @on_lab_thread
    def adjust_shaping(self, node: str, iface: str, both_directions: bool = True, **changes: float | int | None) -> None:
        """Change some shaping fields (delay_ms, jitter_ms, loss_pct, rate_kbit), keeping the others."""
        from lab.net import shaping

        for ns, ifname in self._link_ends(node, iface, both_directions):
            current = shaping.current_shaping(ns, ifname) or shaping.LinkShaping()
            shaping.apply_shaping(ns, ifname, shaping.LinkShaping(**{**current.model_dump(), **changes}))

    @on_lab_thread
    def clear_shaping(self, node: str, iface: str, both_directions: bool = True) -> None:
        from lab.net import shaping

        for ns, ifname in self._link_ends(node, iface, both_directions):
            shaping.clear_shaping(ns, ifname)

    # The four primitives change only their own fields: delay then loss gives both.
    def delay(self, node: str, iface: str, delay_ms: float, jitter_ms: float = 0, both_directions: bool = True) -> None:
        self.adjust_shaping(node, iface, both_directions, delay_ms=delay_ms, jitter_ms=jitter_ms)

    def jitter(self, node: str, iface: str, delay_ms: float, jitter_ms: float, both_directions: bool = True) -> None:
        self.adjust_shaping(node, iface, both_directions, delay_ms=delay_ms, jitter_ms=jitter_ms)

    def loss(self, node: str, iface: str, loss_pct: float, both_directions: bool = True) -> None:
        self.adjust_shaping(node, iface, both_directions, loss_pct=loss_pct)

    def rate(self, node: str, iface: str, rate_kbit: int | None, both_directions: bool = True) -> None:
        self.adjust_shaping(node, iface, both_directions, rate_kbit=rate_kbit)

    def _link_ends(self, node: str, iface: str, both: bool) -> list[tuple[str, str]]:
        """(namespace, ifname) of this end and, optionally, of the veth peer on the other side."""
        plan = self.net.node(node)
        self.net.iface(node, iface)
        ends = [(plan.netns, iface)]
        if both:
            for veth in self.net.plan.veths:
                if veth.inner_node == node and veth.inner_name == iface:
                    ends.append((self.net.netns(veth.outer_node), veth.outer_name))
                elif veth.outer_node == node and veth.outer_name == iface:
                    ends.append((self.net.netns(veth.inner_node), veth.inner_name))
        return ends


def _nft_key(key: object) -> str:
    """An nft element key from its JSON form (a value or a concatenation)."""
    if isinstance(key, dict) and "concat" in key:
        return " . ".join(str(part) for part in key["concat"])
    if isinstance(key, dict) and "elem" in key:
        return _nft_key(key["elem"]["val"])
    return str(key)
