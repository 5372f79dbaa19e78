"""A NAT's behaviour by the axes of RFC 4787: mapping, filtering (hairpin and the binding
timeout are a router's own keys). The lab's NAT type names are presets of these axes, kept here
and nowhere else; lab.net.nat turns the axes into nftables rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Mapping = Literal["endpoint-independent", "address-and-port-dependent"]
Filtering = Literal["endpoint-independent", "address-dependent", "address-and-port-dependent"]
NatType = Literal["none", "full-cone", "restricted-cone", "port-restricted", "symmetric"]

EIM: Mapping = "endpoint-independent"


@dataclass(frozen=True)
class NatBehaviour:
    mapping: Mapping
    filtering: Filtering

    @property
    def endpoint_independent_mapping(self) -> bool:
        """One public port per internal endpoint, whatever the destination (hairpin can look it up)."""
        return self.mapping == EIM

    def __str__(self) -> str:
        return f"mapping={self.mapping}, filtering={self.filtering}"


# The presets: what each NAT type name means (None: no NAT, plain routing).
NAT_PRESETS: dict[str, NatBehaviour | None] = {
    "none": None,
    "full-cone": NatBehaviour("endpoint-independent", "endpoint-independent"),
    "restricted-cone": NatBehaviour("endpoint-independent", "address-dependent"),
    "port-restricted": NatBehaviour("endpoint-independent", "address-and-port-dependent"),
    "symmetric": NatBehaviour("address-and-port-dependent", "address-and-port-dependent"),
}
assert tuple(NAT_PRESETS) == get_args(NatType)

NAT_TYPES: tuple[str, ...] = tuple(NAT_PRESETS)
EIM_NAT_TYPES: tuple[str, ...] = tuple(name for name, b in NAT_PRESETS.items()
                                       if b is not None and b.endpoint_independent_mapping)


def behaviour(nat: str) -> NatBehaviour | None:
    try:
        return NAT_PRESETS[nat]
    except KeyError:
        raise ValueError(f"unknown NAT type {nat!r} (one of {', '.join(NAT_TYPES)})") from None


def preset_of(mapping: str, filtering: str) -> str:
    """The NAT type with these axes; ValueError if the lab's kernel NAT has none."""
    for name, b in NAT_PRESETS.items():
        if b is not None and (b.mapping, b.filtering) == (mapping, filtering):
            return name
    supported = "; ".join(f"{name}: {b}" for name, b in NAT_PRESETS.items() if b is not None)
    raise ValueError(f"no kernel NAT has mapping={mapping}, filtering={filtering} (supported: {supported})")
