"""ICE restarts through real coturn relays, in lab namespaces (not loopback of the host).

Both lab.rtc peers run in one child process inside a lab namespace and may only use relayed
candidates. Each ICE generation must make its own TURN allocation, and setConfiguration()
before a restart must move the call to another relay after the first one died.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from lab import Lab, Peer
from lab.turn import Relay, parse_relay
from tests.turn.conftest import SUBNET, lan  # noqa: F401  (fixture: a flat lab LAN, no turnserver left)

CHILD = Path(__file__).with_name("relay_call.py")
pytestmark = pytest.mark.slow


def start_relay(lan: Lab, name: str, out: Path) -> Relay:
    host = f"h{name}"
    spec = parse_relay(
        {
            "name": name,
            "host": host,
            "address": lan.net.address(host),
            "listeners": ["udp"],
            "peer_networks": [SUBNET],
        }
    )
    relay = Relay(spec, netns_name=lan.net.netns(host), out_dir=out)
    relay.start()
    return relay


class Child:
    def __init__(self, peer: Peer, settings: dict[str, Any]) -> None:
        self.process = peer.popen(
            [sys.executable, str(CHILD), json.dumps(settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            self.seen.append(line)
            self.lines.put(line)

    def generation(self, timeout: float = 40.0) -> dict[str, Any]:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                err = self.process.stderr.read1(20000).decode() if self.process.stderr else ""
                raise AssertionError(f"no generation report; child stderr:\n{err}") from None
            if line.get("event") == "generation":
                return line

    def command(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)


def test_every_generation_allocates_anew_and_fails_over_to_another_relay(
    lan: Lab, tmp_path: Path
) -> None:
    first = start_relay(lan, "r1", tmp_path)
    second = start_relay(lan, "r2", tmp_path)
    peers = lan.peer("a")
    child = Child(
        peers,
        {
            "first": first.ice_server("udp"),
            "second": second.ice_server("udp"),
            "address": peers.address,
        },
    )
    try:
        gen0 = child.generation()
        assert gen0["number"] == 0 and gen0["media"], child.seen
        assert gen0["relays"] and all(host == str(first.spec.address) for host, _ in gen0["relays"])

        child.command("restart")  # same relay: a new allocation, so a new relayed address
        gen1 = child.generation()
        assert gen1["number"] == 1 and gen1["media"]
        assert all(host == str(first.spec.address) for host, _ in gen1["relays"])
        assert set(map(tuple, gen1["relays"])).isdisjoint(map(tuple, gen0["relays"]))

        first.kill()  # the relay dies without a word: 'failed', then fail over to r2
        child.command("failover")
        gen2 = child.generation()
        assert gen2["number"] == 2 and gen2["media"], "media did not resume via the second relay"
        assert gen2["relays"] and all(host == str(second.spec.address) for host, _ in gen2["relays"])
        child.command("")
        child.process.wait(10)
    finally:
        child.close()
        first.close()
        second.close()
