"""Test-side driver for tests/turn/peer_proc.py processes running in lab namespaces."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.turn import lab_ca_file
from lab.turn.netns import popen_in_netns

PEER_SCRIPT = Path(__file__).with_name("peer_proc.py")
Event = dict[str, Any]
Popen = Callable[[list[str], dict[str, Any]], subprocess.Popen]  # type: ignore[type-arg]


class Peer:
    def __init__(self, netns: str, role: str, ice_servers: list[dict[str, str]],
                 policy: str = "relay", popen: Popen | None = None) -> None:
        argv = [sys.executable, str(PEER_SCRIPT),
                json.dumps({"role": role, "ice_servers": ice_servers, "policy": policy})]
        env = dict(os.environ, SSL_CERT_FILE=str(lab_ca_file()), PYTHONUNBUFFERED="1")
        kwargs = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE,
                  "stderr": subprocess.PIPE, "env": env}
        self.process = popen(argv, kwargs) if popen else popen_in_netns(netns, argv, **kwargs)
        self.events: queue.Queue[Event] = queue.Queue()
        self.history: list[Event] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.events.put(json.loads(line))
            except json.JSONDecodeError:
                self.stderr.append(line.decode(errors="replace"))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.decode(errors="replace"))

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def wait_for(self, match: Callable[[Event], bool], timeout: float) -> Event:
        for event in self.history:
            if match(event):
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=min(0.2, max(deadline - time.monotonic(), 0.01)))
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.history.append(event)
            if match(event):
                return event
        raise AssertionError(f"no matching event within {timeout} s; seen {self.summary()}; "
                             f"stderr: {''.join(self.stderr)[-2000:]}")

    def drain(self) -> list[Event]:
        while True:
            try:
                self.history.append(self.events.get_nowait())
            except queue.Empty:
                return self.history

    def media_since(self, t: float) -> int:
        """Audio frames reported after monotonic time `t` (clock shared: same machine)."""
        return sum(e["frames"] for e in self.drain() if e["event"] == "media" and e["t"] > t)

    def summary(self) -> list[str]:
        return [e["event"] + (f":{e.get('state') or e.get('line', '')}" if e["event"] in
                              ("state", "log") else "") for e in self.history][-30:]

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.send({"cmd": "quit"})
                self.process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)


def connect(offerer: Peer, answerer: Peer, timeout: float = 30.0) -> None:
    offer = offerer.wait_for(lambda e: e["event"] == "description", timeout)
    answerer.send({"sdp": offer["sdp"], "type": offer["type"]})
    answer = answerer.wait_for(lambda e: e["event"] == "description", timeout)
    offerer.send({"sdp": answer["sdp"], "type": answer["type"]})


def is_state(state: str) -> Callable[[Event], bool]:
    return lambda e: e["event"] == "state" and e["state"] == state
