"""Runtime impairments on a running network: each takes effect, is undone, and is idempotent."""

from __future__ import annotations

import time

from lab.net import Network
from tests.net.conftest import mapped, udp_probe
from tests.net.test_network import ping


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def default_route_dev(net: Network, host: str) -> str:
    out = net.run(host, ["ip", "-4", "route", "get", "198.51.100.2"], capture_output=True, text=True).stdout
    return out.split(" dev ")[1].split()[0]


def test_link_down_and_up(network) -> None:
    net = network("two_peers.toml")
    net.impair.link_down("alice", "eth0")
    net.impair.link_down("alice", "eth0")
    assert not ping(net, "alice", "198.51.100.2")
    net.impair.link_up("alice", "eth0")
    net.impair.link_up("alice", "eth0")
    assert ping(net, "alice", "198.51.100.2")


def test_wifi_to_lte_handover(network, udp_echo) -> None:
    net = network("phone_handover.toml")
    echo = udp_echo(net, "relay")
    assert default_route_dev(net, "phone") == "wlan0"
    assert mapped(udp_probe(net, "phone", 4000, echo)) == "198.51.100.10:4000"
    net.impair.set_default_route("phone", "wwan0")
    assert default_route_dev(net, "phone") == "wwan0"
    assert mapped(udp_probe(net, "phone", 4001, echo)) == "198.51.100.30:4001"
    net.impair.set_default_route("phone", None)
    net.impair.link_down("phone", "wlan0")
    assert default_route_dev(net, "phone") == "wwan0"
    # the wlan0 address is unusable while wlan0 is down: it must not leak out through wwan0
    wifi_address = net.address("phone", "wlan0")
    lookup = net.run("phone", ["ip", "route", "get", "198.51.100.2", "from", wifi_address], capture_output=True)
    assert lookup.returncode != 0
    # a socket bound to the wwan0 address leaves through wwan0 even while wlan0 is preferred
    net.impair.link_up("phone", "wlan0")
    assert default_route_dev(net, "phone") == "wlan0"
    lte_address = net.address("phone", "wwan0")
    assert ping(net, "phone", "198.51.100.2", "-I", lte_address)


def test_renumber(network) -> None:
    net = network("two_peers.toml")
    assert net.impair.renumber("alice", "eth0", "192.168.1.77") == "192.168.1.77"
    assert net.address("alice") == "192.168.1.77"
    assert ping(net, "alice", "198.51.100.2")
    out = net.run("alice", ["ip", "-4", "-o", "addr", "show", "eth0"], capture_output=True, text=True).stdout
    assert "192.168.1.77/24" in out and "192.168.1.2/" not in out
    assert Network.attach(net.name).address("alice") == "192.168.1.77"


def test_blackhole_for_a_duration_lifts_itself(network) -> None:
    net = network("two_peers.toml")
    net.impair.blackhole("nat_a", "wan", duration=3)
    assert not ping(net, "alice", "198.51.100.2")
    assert wait_for(lambda: ping(net, "alice", "198.51.100.2"), timeout=15)


def test_blackhole_udp_only_and_unblackhole(network, udp_echo) -> None:
    net = network("two_peers.toml")
    echo = udp_echo(net, "relay")
    net.impair.blackhole("alice", "eth0", udp_only=True)
    net.impair.blackhole("alice", "eth0", udp_only=True)
    assert ping(net, "alice", "198.51.100.2")
    assert mapped(udp_probe(net, "alice", 4000, echo)) == "none"
    net.impair.unblackhole("alice", "eth0")
    net.impair.unblackhole("alice", "eth0")
    assert mapped(udp_probe(net, "alice", 4000, echo)) == "198.51.100.10:4000"


def conntrack_count(net: Network, router: str) -> int:
    out = net.run(router, ["conntrack", "-L", "-p", "udp"], capture_output=True, text=True).stdout
    return len([line for line in out.splitlines() if line.startswith("udp")])


def test_flush_bindings_of_one_host_or_all(network, udp_echo) -> None:
    net = network("cgnat.toml")
    echo = udp_echo(net, "relay")
    udp_probe(net, "alice", 4000, echo)
    assert conntrack_count(net, "cgnat") == 1 and conntrack_count(net, "home_a") == 1
    net.impair.flush_bindings("cgnat", "home_a")
    assert conntrack_count(net, "cgnat") == 0
    assert conntrack_count(net, "home_a") == 1
    net.impair.flush_bindings("home_a")
    net.impair.flush_bindings("home_a")
    assert conntrack_count(net, "home_a") == 0


def test_nat_reboot_takes_a_new_public_address(network, udp_echo) -> None:
    net = network("two_peers.toml")
    echo = udp_echo(net, "relay")
    assert mapped(udp_probe(net, "alice", 4000, echo)) == "198.51.100.10:4000"
    new = net.impair.nat_reboot("nat_a")
    assert new != "198.51.100.10" and net.public_address("nat_a") == new
    assert conntrack_count(net, "nat_a") == 0
    assert mapped(udp_probe(net, "alice", 4000, echo)) == f"{new}:4000"


def test_set_nat_type_at_runtime(network, udp_echo) -> None:
    net = network("two_peers.toml")
    echo = udp_echo(net, "relay")
    echo2 = udp_echo(net, "relay", port=5001)
    net.impair.set_nat_type("nat_a", "symmetric")
    first = mapped(udp_probe(net, "alice", 4000, echo))
    second = mapped(udp_probe(net, "alice", 4000, echo2))
    assert first != second  # a fresh mapping per destination
    net.impair.set_nat_type("nat_a", "port-restricted")
    assert mapped(udp_probe(net, "alice", 4000, echo)) == mapped(udp_probe(net, "alice", 4000, echo2))


def test_udp_binding_expires_after_the_routers_timeout(network, udp_echo) -> None:
    from lab.net import Topology

    topo = Topology("expiry")
    topo.add_wan("internet")
    topo.add_host("relay", role="relay")
    topo.link("relay", "internet", address="198.51.100.2")
    topo.add_router("home", nat="full-cone", udp_timeout=4)
    topo.add_host("alice")
    topo.link("alice", "home")
    topo.link("home", "internet", address="198.51.100.10")
    net = network(topo)
    echo = udp_echo(net, "relay")
    assert mapped(udp_probe(net, "alice", 4000, echo)) == "198.51.100.10:4000"
    assert conntrack_count(net, "home") == 1
    assert wait_for(lambda: conntrack_count(net, "home") == 0, timeout=20)
    mapping = net.run("home", ["nft", "list", "map", "ip", "icelab_nat", "mapping"], capture_output=True, text=True).stdout
    assert wait_for(lambda: "4000" not in net.run("home", ["nft", "list", "map", "ip", "icelab_nat", "mapping"],
                                                  capture_output=True, text=True).stdout, timeout=20), mapping


async def test_usable_from_a_running_event_loop(network) -> None:
    import asyncio

    net = network("two_peers.toml")
    net.impair.link_down("alice", "eth0")  # called straight from a coroutine
    net.impair.link_up("alice", "eth0")
    await asyncio.to_thread(net.impair.blackhole, "alice", "eth0", True, 0.5)
    await asyncio.to_thread(net.impair.unblackhole, "alice", "eth0")
    assert ping(net, "alice", "198.51.100.2")
