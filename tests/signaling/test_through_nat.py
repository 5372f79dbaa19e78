"""Signaling across the lab network: server on the WAN host, peers behind NATs, a link flap."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

net_api = pytest.importorskip("lab.net", reason="lab.net (the namespace network) has not landed yet")

TOPOLOGY = Path(__file__).resolve().parents[2] / "topologies" / "two_peers.toml"
PORT = 8765


class Process:
    """A lab process whose stdout JSON lines are read on a thread."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            if line.strip():
                self.lines.put(json.loads(line))

    def send(self, message: dict[str, Any]) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(json.dumps(message) + "\n")
        self.popen.stdin.flush()

    def expect(self, predicate, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out waiting for {what}")
            try:
                record = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if predicate(record):
                return record

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@pytest.fixture
def network() -> Iterator[Any]:
    net = net_api.Network.up(net_api.load_topology(TOPOLOGY), name="sig")
    try:
        yield net
    finally:
        net.down()


def _start(net: Any, host: str, argv: list[str]) -> Process:
    popen = net.popen(
        host, [sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    return Process(popen)


def test_session_survives_a_link_down_up_of_a_peer_behind_nat(network: Any) -> None:
    server_address = network.address("signal")
    processes: list[Process] = []
    try:
        server = _start(network, "signal", ["-m", "lab.rtc.signaling.server", "--host", server_address, "--port", str(PORT)])
        processes.append(server)
        url = server.expect(lambda r: r.get("event") == "signaling-server-ready", 30, "server ready")["url"]
        alice = _start(network, "alice", ["-m", "lab.rtc.signaling.probe", "--url", url, "--room", "nat", "--peer", "alice"])
        bob = _start(network, "bob", ["-m", "lab.rtc.signaling.probe", "--url", url, "--room", "nat", "--peer", "bob"])
        processes += [alice, bob]
        for p in (alice, bob):
            p.expect(lambda r: r.get("state") == "connected", 30, "probe connected through its NAT")

        alice.send({"i": 0})
        bob.expect(lambda r: r.get("body") == {"i": 0}, 30, "first message")

        iface = network.iface("alice").name
        network.impair.link_down("alice", iface)
        try:
            alice.expect(lambda r: r.get("state") == "disconnected", 30, "alice to notice the dead link")
            for i in range(1, 6):
                alice.send({"i": i})  # queued while alice has no network
            bob.send({"j": 1})
            time.sleep(0.5)
        finally:
            network.impair.link_up("alice", iface)
        alice.expect(lambda r: r.get("state") == "connected", 30, "alice to reconnect after link up")
        got = [bob.expect(lambda r: r.get("event") == "message", 30, f"message {i}")["body"] for i in range(1, 6)]
        assert got == [{"i": i} for i in range(1, 6)]
        assert alice.expect(lambda r: r.get("event") == "message", 30, "bob's message")["body"] == {"j": 1}
    finally:
        for p in reversed(processes):
            p.stop()
