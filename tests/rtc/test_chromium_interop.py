"""lab.rtc against libwebrtc: a headless Chromium restarts ICE, then the lab peer does.

Both run in one lab namespace (hermetic: a veth pair, no route out). Skipped where Chromium or
Playwright is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyroute2 import NetNS, netns

from lab import naming
from lab.turn.netns import popen_in_netns

CHILD = Path(__file__).with_name("chromium_call.py")
CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]


@pytest.fixture
def namespace() -> Iterator[str]:
    pytest.importorskip("playwright")
    name = naming.netns_name("rtcchromium", "h")
    netns.create(name)
    try:
        with NetNS(name) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
            # Chromium ignores loopback for ICE: give both peers an ordinary interface
            ns.link("add", ifname="lab0", kind="veth", peer={"ifname": "lab1"})
            for ifname, address in (("lab0", "10.77.5.1"), ("lab1", "10.77.5.2")):
                index = ns.link_lookup(ifname=ifname)[0]
                ns.addr("add", index=index, address=address, prefixlen=24)
                ns.link("set", index=index, state="up")
        yield name
    finally:
        listed = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
        for pid in listed.stdout.split():
            os.kill(int(pid), signal.SIGKILL)
        netns.remove(name)


def test_restarts_from_either_side_with_chromium(namespace: str) -> None:
    child = popen_in_netns(
        namespace,
        [sys.executable, str(CHILD), "10.77.5.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    steps = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert [s["step"] for s in steps] == ["call", "chromium restarts", "lab.rtc restarts"], (
        err.decode()[-3000:]
    )
    for generation, step in enumerate(steps):
        assert step["lab_generation"] == generation, step
        assert step["lab_received"] >= 20, step  # Chromium's audio on this generation
        assert step["chromium_received_per_s"] > 20, step  # and ours at Chromium
        assert step["lab_state"] == "connected", step
        assert step["chromium_states"][-1] == "connected", step
