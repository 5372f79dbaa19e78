"""Relays on real lab.net topologies: peers behind symmetric NATs on both sides."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import Lab
from lab.errors import ConfigError
from lab.net import Network, load_topology
from lab.turn.netns import socket_in_netns
from lab.turn.probe import binding_request
from lab.turn.relay import Relay
from lab.turn.topology import close_relays, start_relays
from tests.turn.conftest import turnservers_in
from tests.turn.peers import Peer, connect

REPO = Path(__file__).resolve().parents[2]
_names = itertools.count()


@pytest.fixture
def symmetric() -> Iterator[Network]:
    """symmetric.toml up as a `Lab` whose relays the tests start themselves (relays_on)."""
    with Lab(REPO / "topologies" / "symmetric.toml", name=f"trnsym{os.getpid() % 1000}x{next(_names)}",
             relays=False) as lab:
        try:
            yield lab.net
        finally:
            leftovers = turnservers_in(lab.net.plan.namespaces())
    assert not leftovers, f"turnserver left running: {leftovers}"


@pytest.fixture
def relays_on(tmp_path: Path) -> Iterator[Any]:
    started: list[Relay] = []

    def start(net: Network, specs: list[dict[str, Any]] | None = None) -> list[Relay]:
        relays = start_relays(net, tmp_path / "out", specs)
        started.extend(relays)
        return relays
    yield start
    close_relays(started)


@pytest.mark.parametrize("policy", ["relay", "all"])
def test_symmetric_nats_both_sides_call_goes_through_the_relay(symmetric: Network, relays_on,
                                                               policy: str) -> None:
    """policy "relay": the selected pair is relay-to-relay on both sides. policy "all": no
    direct path exists through two symmetric NATs, so every side's pair involves the relay
    (aioice may let one side reach the other's relayed address from its host candidate)."""
    (relay,) = relays_on(symmetric)
    assert str(relay.spec.address) == "198.51.100.2"
    assert str(relay.spec.alt_address) == "198.51.100.3"  # second address: RFC 5780 on
    ice = [{"urls": f"stun:{relay.spec.address}:3478"}, relay.ice_server("udp")]
    alice = Peer("", "offer", ice, policy=policy,
                 popen=lambda argv, kw: symmetric.popen("alice", argv, **kw))
    bob = Peer("", "answer", ice, policy=policy,
               popen=lambda argv, kw: symmetric.popen("bob", argv, **kw))
    try:
        connect(alice, bob)
        pairs = [peer.wait_for(lambda e: e["event"] == "pair", 40) for peer in (alice, bob)]
        for pair in pairs:
            if policy == "relay":
                assert (pair["local"], pair["remote"]) == ("relay", "relay"), pairs
            else:
                assert "relay" in (pair["local"], pair["remote"]), pairs
                assert "srflx" not in (pair["local"], pair["remote"]), pairs
        bob.wait_for(lambda e: e["event"] == "media" and e["frames"] > 0, 20)
        alice.wait_for(lambda e: e["event"] == "media" and e["frames"] > 0, 20)
    finally:
        alice.close()
        bob.close()


def test_rfc5780_second_address_reports_the_nat_mapping(symmetric: Network, relays_on) -> None:
    relays_on(symmetric)
    mapping = symmetric.run("alice", ["turnutils_natdiscovery", "-m", "198.51.100.2"],
                            capture_output=True, timeout=30)
    text = (mapping.stdout + mapping.stderr).decode()
    assert "Address and Port Dependent Mapping" in text, text[-1500:]


def test_relays_are_hermetic_allow_list_from_topology(symmetric: Network, relays_on) -> None:
    (relay,) = relays_on(symmetric)
    config = relay.files.config.read_text().splitlines()
    assert "denied-peer-ip=0.0.0.0-255.255.255.255" in config
    allowed = sorted(line for line in config if line.startswith("allowed-peer-ip="))
    # the WAN only: NAT LANs are private, the relay must refuse them (403)
    assert allowed == ["allowed-peer-ip=198.51.100.0-198.51.100.255"]


def test_bad_relay_spec_on_a_topology_starts_nothing(symmetric: Network, relays_on) -> None:
    with pytest.raises(ConfigError, match="no host 'nowhere'"):
        relays_on(symmetric, [{"name": "r1", "host": "relay"}, {"name": "r2", "host": "nowhere"}])
    with pytest.raises(ConfigError, match="port clash"):
        relays_on(symmetric, [{"name": "r1", "host": "relay"}, {"name": "r2", "host": "relay"}])
    assert not turnservers_in(symmetric.plan.namespaces())


def test_tls_carries_the_call_across_nats_when_udp_to_the_relay_is_blackholed(
        symmetric: Network, relays_on) -> None:
    (relay,) = relays_on(symmetric)
    relay.blackhole(udp_only=True)  # lab.net impairment on the relay host's interface
    with socket_in_netns(symmetric.netns("alice")) as sock:  # UDP to the relay really is gone
        assert binding_request(sock, ("198.51.100.2", 3478), timeout=1.0) is None
    ice = [relay.ice_server("tls")]
    alice = Peer("", "offer", ice, popen=lambda argv, kw: symmetric.popen("alice", argv, **kw))
    bob = Peer("", "answer", ice, popen=lambda argv, kw: symmetric.popen("bob", argv, **kw))
    try:
        connect(alice, bob)
        pair = alice.wait_for(lambda e: e["event"] == "pair", 40)
        assert (pair["local"], pair["remote"]) == ("relay", "relay")
        bob.wait_for(lambda e: e["event"] == "media" and e["frames"] > 0, 20)
    finally:
        alice.close()
        bob.close()
    relay.unblackhole()


def test_icelab_clean_stops_a_relay_left_behind(tmp_path: Path) -> None:
    from lab import naming
    from lab.net.cleanup import clean

    net = Network.up(load_topology(REPO / "topologies" / "symmetric.toml"),
                     name=f"trnclean{os.getpid() % 1000}")
    relay = start_relays(net, tmp_path)[0]  # never closed: as if the orchestrator died
    assert turnservers_in(net.plan.namespaces()) == [relay.pid]
    namespaces = net.plan.namespaces()
    clean(naming.scope())
    assert not turnservers_in(namespaces)
    relay.close()  # idempotent on a process that is already gone


def test_two_relays_from_the_example_file_run_side_by_side(symmetric: Network, relays_on) -> None:
    from lab.turn.spec import load_relay_file

    specs = [spec.model_dump() for spec in load_relay_file(REPO / "turn" / "relays.example.toml").relays]
    first, second = relays_on(symmetric, specs)
    assert (first.spec.alt_address is not None, second.spec.alt_address) == (True, None)
    assert second.credential().username.endswith(":peer")  # REST API relay
    first.kill()
    with socket_in_netns(symmetric.netns("alice")) as sock:
        assert binding_request(sock, ("198.51.100.2", 3480), timeout=2.0) is not None
        assert binding_request(sock, ("198.51.100.2", 3478), timeout=0.5) is None


def test_alternate_ports_clash_is_found_once_addresses_are_known(symmetric: Network,
                                                                 relays_on) -> None:
    # r1 gets the host's second address (RFC 5780) and so listens on 3479 too
    with pytest.raises(ConfigError, match="port clash: relay 'r2'"):
        relays_on(symmetric, [{"name": "r1", "host": "relay"},
                              {"name": "r2", "host": "relay", "port": 3479, "tls_port": 5360,
                               "rfc5780": False}])
    assert not turnservers_in(symmetric.plan.namespaces())
