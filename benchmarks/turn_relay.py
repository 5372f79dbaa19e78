"""Print measured figures for lab relays (real coturn on the two-peer topology).

    .venv/bin/python benchmarks/turn_relay.py [--runs 20]

start: Relay.start() until the relay answers a STUN Binding request from its namespace.
restart: kill -9 and start again (a new process). stop: SIGTERM until the process exited.
allocate: a TURN allocation from alice (behind her NAT) with aioice, per transport.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ICELAB_SCOPE", f"bench{os.getpid()}")

from lab.net import Network, load_topology  # noqa: E402
from lab.turn import lab_ca_file  # noqa: E402
from lab.turn.relay import turn_state_dir  # noqa: E402
from lab.turn.topology import close_relays, start_relays  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

ALLOCATE = r"""
import asyncio, json, sys, time
from aioice import turn
async def main():
    server, user, password, runs = json.loads(sys.argv[1])
    out = {}
    for transport, tls, port in (("udp", False, 3478), ("tcp", False, 3478), ("tcp", True, 5349)):
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            t, _ = await turn.create_turn_endpoint(asyncio.DatagramProtocol, (server, port),
                                                   user, password, ssl=tls, transport=transport)
            times.append((time.perf_counter() - began) * 1000)
            t.close()
        out["tls" if tls else transport] = times
    print(json.dumps(out))
asyncio.run(main())
"""


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    net = Network.up(load_topology(REPO / "topologies" / "two_peers.toml"), name="benchturn")
    relays = []
    try:
        with tempfile.TemporaryDirectory() as out:
            relays = start_relays(net, Path(out))
            relay = relays[0]
            relay.stop()
            starts, restarts, stops = [], [], []
            for _ in range(runs):
                starts.append(relay.start() * 1000)
                began = time.monotonic()
                relay.stop()
                stops.append((time.monotonic() - began) * 1000)
            relay.start()
            for _ in range(runs):
                began = time.monotonic()
                relay.restart()
                restarts.append((time.monotonic() - began) * 1000)
            cred = relay.credential()
            done = net.run("alice", [sys.executable, "-c", ALLOCATE,
                                     json.dumps([str(relay.spec.address), cred.username,
                                                 cred.password, runs])],
                           capture_output=True, timeout=300,
                           env=dict(os.environ, SSL_CERT_FILE=str(lab_ca_file())))
            allocations = json.loads(done.stdout)
            print(f"relay start (to first STUN answer): {summary(starts)}")
            print(f"relay graceful stop (SIGTERM):      {summary(stops)}")
            print(f"relay restart (kill -9 + start):    {summary(restarts)}")
            for transport, times in allocations.items():
                print(f"TURN allocation over {transport:3} from alice behind NAT: {summary(times)}")
    finally:
        close_relays(relays)
        net.down()
        shutil.rmtree(turn_state_dir().parent, ignore_errors=True)  # this run's own scope


if __name__ == "__main__":
    main()
