"""delay/jitter/loss/rate on a running network go through lab.net.shaping, on both ends of a link."""

from __future__ import annotations

import re

import pytest

from lab.net import Topology

shaping = pytest.importorskip("lab.net.shaping")


def rtts(net, host: str, target: str, count: int = 5) -> list[float]:
    out = net.run(host, ["ping", "-c", str(count), "-i", "0.2", "-W", "2", target], capture_output=True, text=True).stdout
    return [float(x) for x in re.findall(r"time=([\d.]+) ms", out)]


def test_delay_both_directions_then_clear(network) -> None:
    net = network("two_peers.toml")
    net.impair.delay("alice", "eth0", 30)
    assert shaping.current_shaping(net.netns("alice"), "eth0").delay_ms == 30
    assert shaping.current_shaping(net.netns("nat_a"), "lan").delay_ms == 30  # the router's end of the link
    measured = rtts(net, "alice", "192.168.1.1")
    assert measured and min(measured) >= 55  # 30 ms each way
    net.impair.clear_shaping("alice", "eth0")
    assert shaping.current_shaping(net.netns("alice"), "eth0") is None
    assert shaping.current_shaping(net.netns("nat_a"), "lan") is None


def test_total_loss_one_direction(network) -> None:
    net = network("two_peers.toml")
    net.impair.loss("alice", "eth0", 100, both_directions=False)
    assert rtts(net, "alice", "192.168.1.1", count=2) == []
    net.impair.loss("alice", "eth0", 0, both_directions=False)
    assert rtts(net, "alice", "192.168.1.1", count=2)


def test_link_shaping_from_the_topology(network) -> None:
    topo = Topology("shaped")
    topo.add_wan("internet")
    topo.add_host("a")
    topo.add_host("b")
    topo.link("a", "internet", delay_ms=20)
    topo.link("b", "internet")
    net = network(topo)
    measured = rtts(net, "a", net.address("b"))
    assert measured and min(measured) >= 35


def test_primitives_change_only_their_own_field(network) -> None:
    net = network("two_peers.toml")
    net.impair.delay("alice", "eth0", 20, jitter_ms=5)
    net.impair.loss("alice", "eth0", 10)
    net.impair.rate("alice", "eth0", 2000)
    for ns, ifname in ((net.netns("alice"), "eth0"), (net.netns("nat_a"), "lan")):
        current = shaping.current_shaping(ns, ifname)
        assert (current.delay_ms, current.jitter_ms, current.loss_pct, current.rate_kbit) == (20, 5, 10, 2000)
    net.impair.clear_shaping("alice", "eth0")
