"""The hermetic lab network: namespaces, NAT routers, impairments.

    from lab.net import load_topology, Network
    with Network.up(load_topology("topologies/two_peers.toml"), name="t1") as net:
        net.run("alice", ["ping", "-c1", net.address("relay")])

Names load lazily: importing a submodule (lab.net.shaping's shaper process, say) does not pull
in pyroute2 and pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.net.model import NAT_TYPES
    from lab.net.network import Network, list_up
    from lab.net.topology import Topology, load_topology

__all__ = ["NAT_TYPES", "Network", "Topology", "list_up", "load_topology"]

_WHERE = {
    "load_topology": "lab.net.topology",
    "NAT_TYPES": "lab.net.model",
    "Topology": "lab.net.topology",
    "Network": "lab.net.network",
    "list_up": "lab.net.network",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
