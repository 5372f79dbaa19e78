"""The topology schema (one pydantic model for files and for the Python builder).

A topology has WAN segments (bridges standing for "the internet"), routers and hosts. Links
go from the inner side to the outer side: `a` is a host or router, `b` is the router it sits
behind or the WAN it is attached to. A router's one link with itself as `a` is its uplink
(its public side); every link with the router as `b` lands on the router's LAN bridge.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lab.net.nat_behaviour import EIM_NAT_TYPES, NAT_TYPES, NatType, preset_of  # noqa: F401 (re-exported)

# What happens to an interface's addresses when its link goes down (lab.net.impair.link_down):
# "remove" as an OS or a DHCP release does (the default), or "keep" them on the dead link.
AddrOnDown = Literal["remove", "keep"]

NODE_NAME = r"^[a-z][a-z0-9_]{0,23}$"
IFACE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,14}$")
TOPOLOGY_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.]{0,39}$")

NodeName = Annotated[str, Field(pattern=NODE_NAME)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _network(value: object) -> str:
    try:
        return str(ipaddress.IPv4Network(str(value), strict=True))
    except ValueError as error:
        raise ValueError(f"not an IPv4 subnet in CIDR form: {value!r} ({error})") from None


def _address(value: object) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise ValueError(f"not an IPv4 address: {value!r}") from None


class WanSpec(_Strict):
    subnet: str = "198.51.100.0/24"

    @field_validator("subnet", mode="before")
    @classmethod
    def _check_subnet(cls, v: object) -> str:
        return _network(v)


class RouterSpec(_Strict):
    nat: NatType = "port-restricted"
    udp_timeout: int = Field(30, ge=1, le=86400, description="UDP binding lifetime, seconds")
    hairpin: bool = False
    lan: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _axes_to_preset(cls, data: object) -> object:
        """`mapping` and `filtering` (RFC 4787) may stand for `nat`: they name its preset."""
        if not isinstance(data, dict) or not ({"mapping", "filtering"} & data.keys()):
            return data
        data = dict(data)
        mapping = data.pop("mapping", "endpoint-independent")
        filtering = data.pop("filtering", "address-and-port-dependent")
        nat = preset_of(str(mapping), str(filtering))
        if data.setdefault("nat", nat) != nat:
            raise ValueError(f"nat = {data['nat']!r} contradicts mapping/filtering (that is {nat!r})")
        return data

    @field_validator("lan", mode="before")
    @classmethod
    def _check_lan(cls, v: object) -> str | None:
        return None if v is None else _network(v)

    @model_validator(mode="after")
    def _hairpin_needs_eim(self) -> RouterSpec:
        if self.hairpin and self.nat not in EIM_NAT_TYPES:
            raise ValueError(f"hairpin needs an endpoint-independent mapping NAT, not {self.nat!r}")
        return self


class HostSpec(_Strict):
    role: str = "peer"


class LinkSpec(_Strict):
    a: str
    b: str
    iface: str | None = None
    address: list[str] | None = None
    addresses: int = Field(1, ge=1, le=16, description="how many addresses to assign")
    metric: int | None = Field(None, ge=1, le=65535)
    addr_on_down: AddrOnDown = Field("remove", description="the inner end's addresses when its link goes down")
    # Shaping of the link, applied to both of its ends at `up` (see lab.net.shaping)
    delay_ms: float = Field(0, ge=0, le=60_000)
    jitter_ms: float = Field(0, ge=0, le=60_000)
    loss_pct: float = Field(0, ge=0, le=100)
    rate_kbit: int | None = Field(None, ge=8)

    @model_validator(mode="after")
    def _jitter_needs_delay(self) -> LinkSpec:
        if self.jitter_ms > self.delay_ms:
            raise ValueError(f"jitter_ms ({self.jitter_ms:g}) must not exceed delay_ms ({self.delay_ms:g})")
        return self

    @property
    def shaped(self) -> bool:
        return bool(self.delay_ms or self.jitter_ms or self.loss_pct or self.rate_kbit)

    @field_validator("address", mode="before")
    @classmethod
    def _check_address(cls, v: object) -> list[str] | None:
        if v is None:
            return None
        items = v if isinstance(v, list) else [v]
        return [_address(item) for item in items]

    @field_validator("iface")
    @classmethod
    def _check_iface(cls, v: str | None) -> str | None:
        if v is not None and not IFACE_NAME.match(v):
            raise ValueError(f"interface name {v!r} must be 1-15 letters, digits or _ starting with a letter")
        return v


class TopologySpec(_Strict):
    wan: dict[NodeName, WanSpec] = Field(default_factory=dict)
    routers: dict[NodeName, RouterSpec] = Field(default_factory=dict)
    hosts: dict[NodeName, HostSpec] = Field(default_factory=dict)
    links: list[LinkSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_graph(self) -> TopologySpec:
        validate_graph(self)
        return self


class GraphError(ValueError):
    """A structural error; `key` says where (e.g. links[2].b)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


def validate_graph(spec: TopologySpec) -> None:
    kinds: dict[str, str] = {}
    for group, names in (("wan", spec.wan), ("routers", spec.routers), ("hosts", spec.hosts)):
        for name in names:
            if name in kinds:
                raise GraphError(f"{group}.{name}", f"name {name!r} is already used by {kinds[name]}")
            kinds[name] = group
    if not spec.wan:
        raise GraphError("wan", "a topology needs at least one WAN segment")
    uplinks: dict[str, int] = {}
    host_ifaces: dict[str, set[str]] = {}
    for i, link in enumerate(spec.links):
        for side in ("a", "b"):
            node = getattr(link, side)
            if node not in kinds:
                raise GraphError(f"links[{i}].{side}", f"unknown node {node!r}")
        if link.a == link.b:
            raise GraphError(f"links[{i}]", "a link needs two different nodes")
        a_kind, b_kind = kinds[link.a], kinds[link.b]
        if a_kind == "wan":
            raise GraphError(f"links[{i}].a", f"{link.a!r} is a WAN; put it as b (links go inner -> outer)")
        if b_kind == "hosts":
            raise GraphError(f"links[{i}].b", f"{link.b!r} is a host; b must be a router or a WAN")
        if a_kind == "routers":
            if link.a in uplinks:
                raise GraphError(f"links[{i}].a", f"router {link.a!r} already has an uplink (links[{uplinks[link.a]}])")
            uplinks[link.a] = i
            if link.iface is not None and link.iface != "wan":
                raise GraphError(f"links[{i}].iface", "a router's uplink is always named 'wan'")
        else:
            iface = link.iface or f"eth{len(host_ifaces.get(link.a, ()))}"
            if iface in host_ifaces.setdefault(link.a, set()):
                raise GraphError(f"links[{i}].iface", f"host {link.a!r} already has an interface {iface!r}")
            host_ifaces[link.a].add(iface)
    for name in spec.routers:
        if name not in uplinks:
            raise GraphError(f"routers.{name}", "router has no uplink (a link with it as a and a WAN or router as b)")
    for name in spec.hosts:
        if name not in host_ifaces:
            raise GraphError(f"hosts.{name}", "host has no link")
    # Uplinks must lead to a WAN without cycles.
    parent = {spec.links[i].a: spec.links[i].b for i in uplinks.values()}
    for name in spec.routers:
        seen = {name}
        node = parent[name]
        while kinds[node] == "routers":
            if node in seen:
                raise GraphError(f"routers.{name}", "router uplinks form a cycle")
            seen.add(node)
            node = parent[node]
