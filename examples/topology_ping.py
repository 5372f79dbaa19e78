"""A topology written in Python, brought up, and a ping across its NAT.

    sudo .venv/bin/python examples/topology_ping.py
"""

from __future__ import annotations

from lab import Lab, Topology


def home_network() -> Topology:
    """alice behind a home NAT; a server on the lab's own 'internet'."""
    topo = Topology("ping_demo")
    topo.add_wan("internet", subnet="198.51.100.0/24")
    topo.add_router("home", nat="port-restricted")
    topo.add_host("alice")
    topo.add_host("server", role="server")
    topo.link("home", "internet", address="198.51.100.10")
    topo.link("server", "internet", address="198.51.100.2")
    topo.link("alice", "home")
    return topo


def main() -> int:
    with Lab(home_network(), relays=False) as lab:
        alice, server = lab.peer("alice"), lab.peer("server")
        reachable = alice.ping(server)
        print(f"alice {alice.address} -> server {server.address}: {'reachable' if reachable else 'unreachable'}")
        # the server sees the NAT's public address, not alice's
        print(f"alice's public address: {lab.net.public_address('home')}")
        return 0 if reachable else 1


if __name__ == "__main__":
    raise SystemExit(main())
