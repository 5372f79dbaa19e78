"""Fixtures for relay tests: a flat lab LAN (a `Lab` on a Python topology), relays that are
always cleaned up."""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import Lab, Topology
from lab.turn import Relay, parse_relay
from lab.turn.netns import turnserver_pids

TURN_CLIENT = Path(__file__).with_name("turn_client.py")
SUBNET = "10.77.0.0/24"
# one segment, nothing else: relay hosts hr1/hr2 and clients a/b (10.78.0.0/24 is outside it)
LAN_HOSTS = {"hr1": "10.77.0.1", "a": "10.77.0.2", "b": "10.77.0.3", "hr2": "10.77.0.5"}
_names = itertools.count()


def flat_lan() -> Topology:
    topo = Topology("lan")
    topo.add_wan("lan", subnet=SUBNET)
    for host, address in LAN_HOSTS.items():
        topo.add_host(host, role="relay" if host.startswith("hr") else "peer")
        topo.link(host, "lan", address=address)
    return topo


def turnservers_in(namespaces: list[str]) -> list[int]:
    return turnserver_pids(namespaces)


@pytest.fixture
def lan() -> Iterator[Lab]:
    """The flat LAN up, its relays left to the test (make_relay); no turnserver may outlive it."""
    with Lab(flat_lan(), name=f"trn{os.getpid() % 1000}x{next(_names)}", relays=False) as lab:
        try:
            yield lab
        finally:
            leftovers = turnservers_in(lab.net.plan.namespaces())
    assert not leftovers, f"turnserver left running: {leftovers}"


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[list[Relay]]:
    made: list[Relay] = []
    yield made
    for relay in made:
        relay.close()


@pytest.fixture
def make_relay(lan: Lab, relays: list[Relay], tmp_path: Path):  # type: ignore[no-untyped-def]
    """A relay (not started) on the LAN's host h<name>, at that host's address."""
    def make(name: str = "r1", **fields: Any) -> Relay:
        host = f"h{name}"
        spec = parse_relay({"name": name, "host": host, "address": lan.net.address(host),
                            "peer_networks": [SUBNET], **fields})
        relay = Relay(spec, netns_name=lan.net.netns(host), out_dir=tmp_path / "out")
        relays.append(relay)
        return relay
    return make


class TurnClient:
    """tests/turn/turn_client.py running on a host of the lab (a `lab.Peer`)."""

    def __init__(self, peer: Any, **options: Any) -> None:
        ca_file = str(options.pop("ca_file", ""))
        self.process = peer.popen(
            [sys.executable, str(TURN_CLIENT), json.dumps(options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(os.environ, SSL_CERT_FILE=ca_file))
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def read(self, key: str, timeout: float = 15.0) -> dict[str, Any]:
        """The next line that carries `key` (skipping aioice info lines), or of an error."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"turn client said nothing with {key} in {timeout} s; "
                                     f"exit {self.process.poll()}") from None
            self.seen.append(message)
            if key in message or "error" in message:
                return message

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def command(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)


@pytest.fixture
def turn_client(lan: Lab) -> Iterator[Any]:
    clients: list[TurnClient] = []

    def start(node: str, **options: Any) -> TurnClient:
        client = TurnClient(lan.peer(node), **options)
        clients.append(client)
        return client
    yield start
    for client in clients:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def _remove_turn_state() -> Iterator[None]:
    """Relay configs, keys and the lab CA of this test scope go when the session ends."""
    import shutil

    from lab.turn.relay import turn_state_dir

    yield
    shutil.rmtree(turn_state_dir(), ignore_errors=True)
    try:
        turn_state_dir().parent.rmdir()  # the scope's folder, when nothing else is left in it
    except OSError:
        pass
