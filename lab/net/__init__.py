"""The hermetic lab network: namespaces, NAT routers, impairments.

    from lab.net import load_topology, Network
    with Network.up(load_topology("topologies/two_peers.toml"), name="t1") as net:
        net.run("alice", ["ping", "-c1", net.address("relay")])
"""

from lab.net.loader import load_topology
from lab.net.model import NAT_TYPES, Topology
from lab.net.network import Network, list_up

__all__ = ["NAT_TYPES", "Network", "Topology", "list_up", "load_topology"]
