"""Print how fast the signaling session resumes after an outage (loopback, real WebSockets).

For each run: two clients in one room; alice's link dies for OUTAGE_S, she queues 5 messages,
the link returns; measured is the time from the end of the outage until bob has all 5.
Run: .venv/bin/python benchmarks/signaling_recovery.py [runs]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from lab.rtc.signaling import SignalingClient, SignalingServer

OUTAGE_S = 1.0


async def one_run(server: SignalingServer, room: str) -> float:
    async with SignalingClient.create(server.url, room, "alice") as a, SignalingClient.create(server.url, room, "bob") as b:
        await a.wait_connected(10)
        await b.wait_connected(10)
        got: list[float] = []
        done = asyncio.Event()

        def on_message(_: dict) -> None:
            got.append(time.monotonic())
            if len(got) == 5:
                done.set()

        b.on("message", on_message)
        a.begin_outage()
        for i in range(5):
            a.send({"i": i})
        await asyncio.sleep(OUTAGE_S)
        ended = time.monotonic()
        a.end_outage()
        await asyncio.wait_for(done.wait(), 30)
        return got[-1] - ended


async def main(runs: int) -> None:
    async with SignalingServer("127.0.0.1", 0) as server:
        times = [await one_run(server, f"bench{i}") for i in range(runs)]
    times.sort()
    print(f"signaling resume after a {OUTAGE_S:.1f} s outage, {runs} runs (default backoff 0.1 s doubling, max 2 s):")
    print(f"  median {statistics.median(times) * 1000:.0f} ms, min {times[0] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
