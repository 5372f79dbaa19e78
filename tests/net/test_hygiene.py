"""Addresses leave with their link, and nothing with a foreign source crosses a NAT.

An interface that goes down loses its addresses (addr_on_down = "remove", as an OS or a DHCP
release does) and with them its routes and source rules; link_up brings all of them back. A
packet whose source is not in a router's LAN is dropped by the router's reverse-path filter and,
if that is off, by its NAT (which masquerades only its own LAN).
"""

from __future__ import annotations

import sys

from lab.net import Network, Topology
from tests.net.conftest import mapped, udp_probe
from tests.net.test_impairments import default_route_dev
from tests.net.test_network import ping

# send from SOURCE:4000 to the echo server, print what it answered (the mapped address) or "none"
SEND_FROM = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], 4000))
sock.settimeout(1.0)
host, port = sys.argv[2].rsplit(":", 1)
for _ in range(3):
    try:
        sock.sendto(b"probe", (host, int(port)))
        print(sock.recvfrom(2048)[0].decode())
        break
    except OSError:
        continue
else:
    print("none")
"""


def send_from(net: Network, host: str, source: str, echo_address: str) -> str:
    result = net.run(host, [sys.executable, "-c", SEND_FROM, source, echo_address],
                     capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def iface_addresses(net: Network, host: str, iface: str) -> list[str]:
    out = net.run(host, ["ip", "-4", "-o", "addr", "show", "dev", iface], capture_output=True, text=True).stdout
    return [line.split()[3] for line in out.splitlines()]


def source_rules(net: Network, host: str, address: str) -> list[str]:
    out = net.run(host, ["ip", "-4", "rule", "show"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f"from {address} " in line + " "]


def test_link_down_removes_the_addresses_routes_and_rules_and_link_up_restores_them(network, udp_echo) -> None:
    net = network("phone_handover.toml")
    echo = udp_echo(net, "relay")
    wifi = net.iface("phone", "wlan0").addresses[0]
    wifi_address = wifi.split("/")[0]
    assert source_rules(net, "phone", wifi_address)
    net.impair.link_down("phone", "wlan0")
    assert iface_addresses(net, "phone", "wlan0") == []
    assert source_rules(net, "phone", wifi_address) == []
    assert default_route_dev(net, "phone") == "wwan0"
    assert mapped(udp_probe(net, "phone", 4000, echo)) == "198.51.100.30:4000"
    net.impair.link_up("phone", "wlan0")
    assert iface_addresses(net, "phone", "wlan0") == [wifi]
    assert source_rules(net, "phone", wifi_address)
    assert default_route_dev(net, "phone") == "wlan0"
    assert send_from(net, "phone", wifi_address, echo.address) == "198.51.100.10:4000"


def test_keep_leaves_the_address_on_the_dead_link_without_leaking_it(network, udp_echo) -> None:
    topo = Topology("keep")
    topo.add_wan("internet")
    topo.add_router("nat_wifi", lan="192.168.1.0/24")
    topo.add_router("nat_lte", lan="100.72.0.0/24")
    topo.add_host("phone")
    topo.add_host("relay")
    topo.link("nat_wifi", "internet", address="198.51.100.10")
    topo.link("nat_lte", "internet", address="198.51.100.30")
    topo.link("relay", "internet", address="198.51.100.2")
    topo.link("phone", "nat_wifi", iface="wlan0", metric=100, addr_on_down="keep")
    topo.link("phone", "nat_lte", iface="wwan0", metric=200)
    net = network(topo)
    echo = udp_echo(net, "relay")
    wifi = net.iface("phone", "wlan0").addresses[0]
    # the old lab's cold handover: wwan0 down first, then wlan0 down and wwan0 up (which reinstalls
    # the routes of the interfaces that are up): the dead wlan0's address must stay unroutable
    net.impair.link_down("phone", "wwan0")
    net.impair.link_down("phone", "wlan0")
    net.impair.link_up("phone", "wwan0")
    assert iface_addresses(net, "phone", "wlan0") == [wifi]
    assert send_from(net, "phone", wifi.split("/")[0], echo.address) == "none"
    # the per-call override
    net.impair.link_down("phone", "wwan0", addr_on_down="keep")
    assert iface_addresses(net, "phone", "wwan0") == net.iface("phone", "wwan0").addresses
    net.impair.link_up("phone", "wwan0")
    assert mapped(udp_probe(net, "phone", 4001, echo)) == "198.51.100.30:4001"


def rp_filter_drops(net: Network, node: str) -> int:
    """The kernel's count of packets the node's reverse-path filter dropped (TcpExt IPReversePathFilter)."""
    lines = net.run(node, ["cat", "/proc/net/netstat"], capture_output=True, text=True).stdout.splitlines()
    names, values = next((a.split(), b.split()) for a, b in zip(lines, lines[1:], strict=False) if a.startswith("TcpExt:")
                         and b.startswith("TcpExt:"))
    return int(values[names.index("IPReversePathFilter")])


def test_a_foreign_source_is_dropped_by_the_router_and_by_the_nat(network, udp_echo) -> None:
    net = network("two_peers.toml")
    echo = udp_echo(net, "relay")
    # alice sends from an address that is not in nat_a's LAN (on her loopback, routed out eth0)
    foreign = "192.168.77.5"
    net.run("alice", ["ip", "addr", "add", f"{foreign}/32", "dev", "lo"], check=True)
    own = net.address("alice")
    assert send_from(net, "alice", own, echo.address) == "198.51.100.10:4000"
    before = rp_filter_drops(net, "nat_a")
    assert send_from(net, "alice", foreign, echo.address) == "none"
    assert rp_filter_drops(net, "nat_a") > before  # nat_a's reverse-path filter dropped it
    # Give nat_a a route back to that source through its LAN: the reverse-path check now passes,
    # and a NAT that translated any source would carry the packet and bring the reply back.
    # It must not: it masquerades only its own LAN and drops the rest.
    net.run("nat_a", ["ip", "route", "add", f"{foreign}/32", "dev", "lan"], check=True)
    before = rp_filter_drops(net, "nat_a")
    assert send_from(net, "alice", foreign, echo.address) == "none"
    assert rp_filter_drops(net, "nat_a") == before
    assert send_from(net, "alice", own, echo.address) == "198.51.100.10:4000"
    assert ping(net, "alice", echo.address.split(":")[0])
