"""Real aiortc peers calling through real coturn on a flat lab LAN (tests/turn/conftest.py).

The peers use iceTransportPolicy "relay" here: on a flat LAN host candidates would win.
test_symmetric_nat.py runs the same kind of call across symmetric NATs with policy "all".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from lab import Lab
from lab.turn import ephemeral_credential
from tests.turn.peers import Peer, connect

RELAY = "10.77.0.1"


@pytest.fixture
def call_lab(lan: Lab) -> Iterator[Any]:
    """Two aiortc peers (tests/turn/peer_proc.py) on the LAN's hosts a and b."""
    peers: list[Peer] = []

    def start_peers(ice_a: list[dict], ice_b: list[dict] | None = None) -> tuple[Peer, Peer]:
        a = Peer("", "offer", ice_a, popen=lambda argv, kw: lan.peer("a").popen(argv, **kw))
        b = Peer("", "answer", ice_b if ice_b is not None else ice_a,
                 popen=lambda argv, kw: lan.peer("b").popen(argv, **kw))
        peers.extend([a, b])
        return a, b

    yield start_peers
    for peer in peers:
        peer.close()


def wait_media(peer: Peer, timeout: float = 20.0) -> None:
    peer.wait_for(lambda e: e["event"] == "media" and e["frames"] > 0, timeout)


@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_turn_over_tcp_and_tls_carry_the_call_when_udp_is_blocked(make_relay, call_lab,
                                                                  transport: str) -> None:
    relay = make_relay()
    relay.start()
    relay.blackhole(udp_only=True)
    a, b = call_lab([relay.ice_server(transport)])
    connect(a, b)
    pair = a.wait_for(lambda e: e["event"] == "pair", 30)
    assert (pair["local"], pair["remote"]) == ("relay", "relay")
    wait_media(b)
    wait_media(a)


def test_expired_credentials_fail_with_a_clear_line_not_a_hang(make_relay, call_lab) -> None:
    relay = make_relay(auth_secret="lab-secret")
    relay.start()
    expired = ephemeral_credential("lab-secret", "alice", ttl=-60)
    a, b = call_lab([relay.ice_server("udp", expired)], [relay.ice_server("udp")])
    line = a.wait_for(lambda e: e["event"] == "log", 20)["line"]
    assert "TURN allocation failed on turn:10.77.0.1:3478?transport=udp" in line
    assert "401 Unauthorized" in line and "expired" in line
    offer = a.wait_for(lambda e: e["event"] == "description", 20)  # gathering ended
    assert "typ relay" not in offer["sdp"]


def test_killing_the_relay_stops_media_and_a_restart_does_not_bring_it_back(make_relay,
                                                                            call_lab) -> None:
    relay = make_relay()
    relay.start()
    a, b = call_lab([relay.ice_server("udp")])
    connect(a, b)
    pair = b.wait_for(lambda e: e["event"] == "pair", 30)
    assert (pair["local"], pair["remote"]) == ("relay", "relay")
    wait_media(b)

    time.sleep(1.0)
    killed_at = time.monotonic()
    assert b.media_since(killed_at - 1.0) > 0  # the call was carrying media when the relay died
    relay.kill()
    time.sleep(3.0)
    # frames in flight or reported late (200 ms windows, loaded machine) may land just after
    # the kill; none after 1 s
    assert b.media_since(killed_at + 1.0) == 0

    restarted_at = time.monotonic()
    relay.restart()
    time.sleep(3.0)
    assert b.media_since(restarted_at) == 0, "media resumed through a restarted relay"
    log = relay.files.log.read_text()
    assert log.count("--- icelab: starting relay r1") == 2  # the first start and the restart
