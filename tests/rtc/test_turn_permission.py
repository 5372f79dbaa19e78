"""A pair from a relay candidate gets the server's permission for its peer when it is made
(lab.rtc.turn.bind_early), not at its first check: a peer's packets to the relayed address get
through before this side sent it anything. A reply to a new port of a permitted peer leaves at
once (a Send indication), not after a ChannelBind round trip. Real coturn in topologies/symmetric.toml; the peer
is bob behind his symmetric NAT, so the permission must name his NAT's public address."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import Lab

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("turn_permission_child.py")
REPLY_CHILD = Path(__file__).with_name("turn_reply_child.py")
_names = itertools.count()
pytestmark = pytest.mark.slow

SEND = ("import socket, sys, time\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "for _ in range(10):\n"
        "    s.sendto(b'hello', (sys.argv[1], int(sys.argv[2])))\n"
        "    time.sleep(0.1)\n")


@pytest.fixture
def symmetric(tmp_path: Path) -> Iterator[Lab]:
    with Lab(REPO / "topologies" / "symmetric.toml", name=f"turnperm{os.getpid() % 1000}x{next(_names)}",
             out_dir=tmp_path / "out") as lab:
        yield lab


def received_from_bob(lab: Lab, bind_early: bool) -> int:
    (relay,) = lab.relays.values()
    server = relay.ice_server("udp")
    settings = {"server": [str(relay.spec.address), relay.spec.port], "username": server["username"],
                "password": server["credential"], "peer_ip": lab.net.public_address("nat_b"),
                "bind_early": bind_early}
    child = lab.peer("alice").popen([sys.executable, str(CHILD), json.dumps(settings)],
                                    stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        host, port = json.loads(child.stdout.readline())["relay"]
        time.sleep(0.5)  # the permission's round trip, many times over
        lab.peer("bob").popen([sys.executable, "-c", SEND, host, str(port)]).wait(timeout=30)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    return int(json.loads(out.strip().splitlines()[-1])["received"])


def test_the_permission_is_asked_for_when_the_pair_is_made(symmetric: Lab) -> None:
    assert received_from_bob(symmetric, bind_early=False) == 0  # the relay drops them: no permission
    assert received_from_bob(symmetric, bind_early=True) > 0


ECHO = ("import socket, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.settimeout(0.2)\n"
        "for _ in range(25):\n"
        "    s.sendto(b'hello', (sys.argv[1], int(sys.argv[2])))\n"
        "    try:\n"
        "        print(s.recvfrom(2048)[0].decode(), flush=True)\n"
        "        break\n"
        "    except socket.timeout:\n"
        "        pass\n")


def test_a_reply_to_a_permitted_peer_does_not_wait_for_its_channel(symmetric: Lab) -> None:
    (relay,) = symmetric.relays.values()
    server = relay.ice_server("udp")
    settings = {"server": [str(relay.spec.address), relay.spec.port], "username": server["username"],
                "password": server["credential"], "peer_ip": symmetric.net.public_address("nat_b")}
    child = symmetric.peer("alice").popen([sys.executable, str(REPLY_CHILD), json.dumps(settings)],
                                          stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        host, port = json.loads(child.stdout.readline())["relay"]
        time.sleep(0.5)
        echo = symmetric.peer("bob").popen([sys.executable, "-c", ECHO, host, str(port)],
                                           stdout=subprocess.PIPE, text=True)
        heard, _ = echo.communicate(timeout=30)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert json.loads(out.strip().splitlines()[-1]) == {"replied": True}, out
    assert "reply" in heard  # through the relay, every ChannelBind unanswered
