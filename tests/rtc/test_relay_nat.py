"""lab.rtc peers behind the symmetric NATs of topologies/symmetric.toml, relayed by real coturn.

The peers gather host candidates on their namespace's usable addresses (IceOptions
host_addresses, as the peer agent does) with the 'all' transport policy: no direct path exists,
so the call must go through the relay and reach DTLS 'connected' with media both ways.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import Lab
from tests.turn.peers import Peer, connect, is_state

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("nat_peer.py")
_names = itertools.count()
pytestmark = pytest.mark.slow


@pytest.fixture
def symmetric(tmp_path: Path) -> Iterator[Lab]:
    with Lab(REPO / "topologies" / "symmetric.toml", name=f"rtcsym{os.getpid() % 1000}x{next(_names)}",
             out_dir=tmp_path / "out") as lab:  # the topology up, its relay started
        yield lab


def lab_rtc_peer(lab: Lab, host: str, role: str, ice: list[dict[str, str]], policy: str) -> Peer:
    settings = json.dumps(
        {"role": role, "ice_servers": ice, "policy": policy, "host_addresses": True}
    )
    # tests/turn's driver, running this folder's lab.rtc child instead of its plain aiortc one
    return Peer("", role, ice, popen=lambda argv, kw: lab.peer(host).popen([argv[0], str(CHILD), settings], **kw))


@pytest.mark.parametrize("policy", ["all", "relay"])
def test_relayed_call_with_explicit_host_addresses_connects(symmetric: Lab, policy: str) -> None:
    (relay,) = symmetric.relays.values()
    # as a trial configures its peers: STUN and TURN on the relay host
    ice = [{"urls": f"stun:{relay.spec.address}:{relay.spec.port}"}, relay.ice_server("udp")]
    alice = lab_rtc_peer(symmetric, "alice", "offer", ice, policy)
    bob = lab_rtc_peer(symmetric, "bob", "answer", ice, policy)
    try:
        connect(alice, bob)
        for peer in (alice, bob):
            peer.wait_for(is_state("connected"), 40)
            pair = peer.wait_for(lambda e: e["event"] == "pair", 5)
            assert "relay" in (pair["local"], pair["remote"]), pair
        alice.wait_for(lambda e: e["event"] == "media" and e["frames"] > 0, 20)
        bob.wait_for(lambda e: e["event"] == "media" and e["frames"] > 0, 20)
    finally:
        alice.close()
        bob.close()
