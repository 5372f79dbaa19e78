"""A topology in Python (Mininet-style builder) or loaded from a TOML file; validated by
lab.net.loader, resolved by lab.net.plan, brought up by lab.net.network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.configfile import read_toml
from lab.net.loader import validate
from lab.net.model import TopologySpec


class Topology:
    """A topology under construction (Mininet-style) or loaded from a file.

    topo = Topology("demo"); topo.add_wan("internet"); topo.add_router("nat_a")
    topo.add_host("alice"); topo.link("alice", "nat_a"); topo.link("nat_a", "internet")
    """

    def __init__(self, name: str = "lab", *, source: str | None = None) -> None:
        self.name = name
        self.source = source
        self._raw: dict[str, Any] = {"wan": {}, "routers": {}, "hosts": {}, "links": []}
        self._spec: TopologySpec | None = None

    @classmethod
    def from_spec(cls, spec: TopologySpec, name: str, source: str | None = None) -> Topology:
        topo = cls(name, source=source)
        topo._raw = spec.model_dump(exclude_none=True)
        topo._spec = spec
        return topo

    def _changed(self) -> None:
        self._spec = None

    def add_wan(self, name: str, subnet: str = "198.51.100.0/24") -> Topology:
        self._raw["wan"][name] = {"subnet": subnet}
        self._changed()
        return self

    def add_router(
        self,
        name: str,
        nat: str = "port-restricted",
        udp_timeout: int = 30,
        hairpin: bool = False,
        lan: str | None = None,
    ) -> Topology:
        entry = {"nat": nat, "udp_timeout": udp_timeout, "hairpin": hairpin}
        if lan is not None:
            entry["lan"] = lan
        self._raw["routers"][name] = entry
        self._changed()
        return self

    def add_host(self, name: str, role: str = "peer") -> Topology:
        self._raw["hosts"][name] = {"role": role}
        self._changed()
        return self

    def link(
        self,
        a: str,
        b: str,
        iface: str | None = None,
        address: str | list[str] | None = None,
        addresses: int = 1,
        metric: int | None = None,
        addr_on_down: str = "remove",
        delay_ms: float = 0,
        jitter_ms: float = 0,
        loss_pct: float = 0,
        rate_kbit: int | None = None,
    ) -> Topology:
        entry: dict[str, Any] = {"a": a, "b": b, "addresses": addresses, "addr_on_down": addr_on_down}
        for key, value in (("iface", iface), ("address", address), ("metric", metric), ("rate_kbit", rate_kbit)):
            if value is not None:
                entry[key] = value
        for key, number in (("delay_ms", delay_ms), ("jitter_ms", jitter_ms), ("loss_pct", loss_pct)):
            if number:
                entry[key] = number
        self._raw["links"].append(entry)
        self._changed()
        return self

    @property
    def spec(self) -> TopologySpec:
        """The validated model; raises ConfigError naming the key and the reason."""
        if self._spec is None:
            self._spec = validate(self._raw, self.source)
        return self._spec

    def to_dict(self) -> dict[str, Any]:
        return self.spec.model_dump(exclude_none=True)


def load_topology(file: str | Path, name: str | None = None) -> Topology:
    path = Path(file)
    raw = read_toml(path)
    spec = validate(raw, str(path))
    return Topology.from_spec(spec, name or path.stem.replace("-", "_"), source=str(path))
