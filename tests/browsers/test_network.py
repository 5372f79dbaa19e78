"""The browsers stay off every network but the lab's: started in a lab namespace and left idle
(page loaded, no call), they send nothing at all outside the loopback (no update, telemetry,
captive portal, safe browsing, remote settings or DNS traffic). A capture of the namespace proves it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.contract import AgentConfig
from lab.experiment.spec import PolicySpec
from tests.browsers.harness import ROOT

pytestmark = pytest.mark.usefixtures("no_leftovers")

IDLE_S = 20.0


@pytest.mark.parametrize("kind", ["firefox", "chromium"])
def test_idle_browser_sends_nothing_outside_the_loopback(kind: str, tmp_path: Path) -> None:
    from lab.net import Network, load_topology

    net = Network.up(load_topology(ROOT / "topologies" / "two_peers.toml"), name=f"{kind[0]}net")
    pcap = tmp_path / "bob.pcap"
    capture = net.popen("bob", ["tcpdump", "-i", "any", "-n", "-U", "-Z", "root", "-w", str(pcap),
                                "not host 127.0.0.1 and not host ::1"],
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=(tmp_path / "tcpdump.log").open("wb"))
    agent = None
    try:
        deadline = time.monotonic() + 10
        while b"listening on" not in (tmp_path / "tcpdump.log").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        config = AgentConfig(trial_id=f"{kind[0]}net", role="answerer", host="bob", kind=kind, polite=True,
                             restarts=False, policy=PolicySpec.model_validate("none"), wait_for_start=True)
        agent = net.popen("bob", [sys.executable, "-m", f"lab.runtime.{kind}", config.model_dump_json()],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(tmp_path / "agent.log").open("wb"))
        assert agent.stdout is not None
        for line in agent.stdout:
            if json.loads(line)["kind"] == "agent_loaded":
                break
        time.sleep(IDLE_S)
    finally:
        if agent is not None:
            assert agent.stdin is not None
            agent.stdin.write(b'{"cmd": "stop"}\n')
            agent.stdin.flush()
            agent.wait(timeout=30)
        capture.send_signal(2)
        capture.wait(timeout=10)
        net.down()
    printed = subprocess.run(["tcpdump", "-n", "-r", str(pcap)], capture_output=True, text=True).stdout
    packets = [line for line in printed.splitlines() if line.strip()]
    names = sorted({word for line in packets for word in line.split() if word.endswith(".") and word.count(".") > 1})
    assert not packets, (f"{kind} sent {len(packets)} packets outside the loopback (names: {names}):\n"
                         + "\n".join(packets[:20]))
