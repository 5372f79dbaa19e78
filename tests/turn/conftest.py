"""Fixtures for relay tests: a private hermetic LAN, relays that are always cleaned up."""

from __future__ import annotations

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

from lab.turn import Relay, parse_relay
from lab.turn.netns import popen_in_netns, turnserver_pids
from tests.turn.lanlab import SUBNET, LanLab, make_lanlab

TURN_CLIENT = Path(__file__).with_name("turn_client.py")


def turnservers_in(namespaces: list[str]) -> list[int]:
    return turnserver_pids(namespaces)


@pytest.fixture
def lanlab() -> Iterator[LanLab]:
    lab = make_lanlab()
    try:
        yield lab
    finally:
        leftovers = turnservers_in(lab.namespaces)
        lab.down()
        assert not leftovers, f"turnserver left running: {leftovers}"


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[list[Relay]]:
    made: list[Relay] = []
    yield made
    for relay in made:
        relay.close()


@pytest.fixture
def make_relay(lanlab: LanLab, relays: list[Relay], tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(name: str = "r1", address: str = "10.77.0.1", **fields: Any) -> Relay:
        if lanlab.ns(f"h{name}") not in lanlab.namespaces:
            lanlab.add_host(f"h{name}", f"{address}/24",
                            *[f"{fields['alt_address']}/24"] if fields.get("alt_address") else [])
        spec = parse_relay({"name": name, "host": f"h{name}", "address": address,
                            "peer_networks": [str(SUBNET)], **fields})
        relay = Relay(spec, netns_name=lanlab.ns(f"h{name}"), out_dir=tmp_path / "out")
        relays.append(relay)
        return relay
    return make


class TurnClient:
    """tests/turn/turn_client.py running in a namespace."""

    def __init__(self, netns: str, **options: Any) -> None:
        ca_file = str(options.pop("ca_file", ""))
        self.process = popen_in_netns(
            netns, [sys.executable, str(TURN_CLIENT), json.dumps(options)],
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
def turn_client(lanlab: LanLab) -> Iterator[Any]:
    clients: list[TurnClient] = []

    def start(node: str, **options: Any) -> TurnClient:
        client = TurnClient(lanlab.ns(node), **options)
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
