"""Each NAT type, probed the RFC 5780 way (coturn on two WAN addresses + turnutils_natdiscovery)."""

from __future__ import annotations

import re

import pytest

from lab.net import Topology
from tests.net.conftest import mapped, natdiscovery, udp_probe

EXPECTED = {
    "full-cone": ("Endpoint Independent Mapping", "Endpoint Independent Filtering"),
    "restricted-cone": ("Endpoint Independent Mapping", "Address Dependent Filtering"),
    "port-restricted": ("Endpoint Independent Mapping", "Address and Port Dependent Filtering"),
    "symmetric": ("Address and Port Dependent Mapping", "Address and Port Dependent Filtering"),
}


def behind(nat: str, *, cgnat: bool = False, hairpin: bool = False) -> Topology:
    topo = Topology("nat")
    topo.add_wan("internet", subnet="198.51.100.0/24")
    topo.add_host("stun", role="relay")
    topo.link("stun", "internet", address=["198.51.100.2", "198.51.100.3"])
    topo.add_router("home", nat=nat, hairpin=hairpin)
    topo.add_host("client")
    topo.link("client", "home")
    if cgnat:
        topo.add_router("cgnat", nat="port-restricted", hairpin=True)
        topo.link("home", "cgnat")
        topo.link("cgnat", "internet", address="198.51.100.10")
    else:
        topo.link("home", "internet", address="198.51.100.10")
    return topo


def verdicts(report: str) -> list[str]:
    return re.findall(r"NAT with (.+?)!", report)


@pytest.mark.slow
@pytest.mark.parametrize("nat", list(EXPECTED))
def test_nat_type_mapping_and_filtering(nat, network, stun_server) -> None:
    net = network(behind(nat))
    server = stun_server(net, "stun")
    report = natdiscovery(net, "client", server, "-m", "-f")
    assert verdicts(report) == list(EXPECTED[nat]), report
    assert "198.51.100.10:" in report  # the reflexive address is the router's public address


@pytest.mark.slow
def test_cgnat_double_nat_maps_to_the_carrier_address(network, stun_server) -> None:
    net = network(behind("port-restricted", cgnat=True))
    server = stun_server(net, "stun")
    assert net.address("home", "wan").startswith("100.64.")
    report = natdiscovery(net, "client", server, "-m", "-f")
    assert verdicts(report) == list(EXPECTED["port-restricted"]), report
    assert re.search(r"UDP reflexive addr: 198\.51\.100\.10:\d+", report)


def test_udp_binding_timeout_is_per_router(network) -> None:
    topo = behind("port-restricted")
    topo.add_router("other", nat="symmetric", udp_timeout=7)
    topo.add_host("bob")
    topo.link("bob", "other")
    topo.link("other", "internet")
    net = network(topo)

    def udp_timeout(router: str) -> str:
        out = net.run(router, ["cat", "/proc/sys/net/netfilter/nf_conntrack_udp_timeout"], capture_output=True, text=True)
        return out.stdout.strip()

    assert udp_timeout("home") == "30"
    assert udp_timeout("other") == "7"
    net.impair.set_udp_timeout("home", 12)
    assert udp_timeout("home") == "12"


def hairpin_topology(hairpin: bool) -> Topology:
    topo = Topology("hairpin")
    topo.add_wan("internet", subnet="198.51.100.0/24")
    topo.add_host("relay", role="relay")
    topo.link("relay", "internet", address="198.51.100.2")
    topo.add_router("home", nat="port-restricted", hairpin=hairpin)
    topo.link("home", "internet", address="198.51.100.10")
    for host in ("alice", "bob"):
        topo.add_host(host)
        topo.link(host, "home")
    return topo


@pytest.mark.parametrize("hairpin", [True, False])
def test_hairpin(hairpin, network, udp_echo) -> None:
    net = network(hairpin_topology(hairpin))
    echo = udp_echo(net, "relay")
    bob = udp_probe(net, "bob", 4000, echo, "--recv", "5", background=True)
    bob_public = bob.stdout.readline().split()[1]
    assert bob_public == "198.51.100.10:4000"
    alice = udp_probe(net, "alice", 4001, echo, "--send", bob_public, "--repeat", "3")
    alice_public = mapped(alice)
    bob_result = bob.stdout.readline().strip()
    bob.wait()
    if hairpin:
        # RFC 4787 REQ-9: the hairpinned packet carries alice's public mapping as its source.
        assert bob_result == f"got {alice_public}"
    else:
        assert bob_result == "timeout"
