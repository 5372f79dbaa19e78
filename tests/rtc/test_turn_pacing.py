"""lab.rtc's TURN requests are paced: a lost Allocate is sent again every
server_query_interval, not after aioice's doubling RTO (0.5, 1, 2 s ...). Real coturn in
topologies/symmetric.toml; the relay's UDP is blackholed while the first copies go out."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import Lab

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("turn_pace_child.py")
PRUNE_CHILD = Path(__file__).with_name("relay_prune_child.py")
_names = itertools.count()
pytestmark = pytest.mark.slow


@pytest.fixture
def symmetric(tmp_path: Path) -> Iterator[Lab]:
    with Lab(REPO / "topologies" / "symmetric.toml", name=f"turnpace{os.getpid() % 1000}x{next(_names)}",
             out_dir=tmp_path / "out") as lab:
        yield lab


def test_a_lost_allocate_is_sent_again_at_the_query_pace(symmetric: Lab) -> None:
    (relay,) = symmetric.relays.values()
    server = relay.ice_server("udp")
    settings = {"server": [str(relay.spec.address), relay.spec.port], "username": server["username"],
                "password": server["credential"], "interval": 0.05}
    child = symmetric.peer("alice").popen([sys.executable, str(CHILD), json.dumps(settings)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        # 1.5 s without UDP at the relay: aioice's Allocate goes 3 times in that window (0,
        # 0.5, 1.5 s); paced at 0.05 s it goes out many times and succeeds once the path is back
        symmetric.net.impair.blackhole("relay", symmetric.net.iface("relay").name, udp_only=True, duration=1.5)
        out, _ = child.communicate("go\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["relay"] is not None, out
    assert result["allocate_copies"] >= 8, result


def test_a_relay_reached_from_a_vanished_address_is_pruned_with_it(symmetric: Lab) -> None:
    (relay,) = symmetric.relays.values()
    server = relay.ice_server("udp")
    settings = {"server": [str(relay.spec.address), relay.spec.port], "username": server["username"],
                "password": server["credential"], "address": symmetric.peer("alice").address}
    child = symmetric.peer("alice").popen([sys.executable, str(PRUNE_CHILD), json.dumps(settings)],
                                          stdout=subprocess.PIPE, text=True)
    out, _ = child.communicate(timeout=60)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["before"] == ["host", "relay"], result
    assert result["after"] == [] and result["relay_closed"] and result["relay_sockets_left"] == 0, result
