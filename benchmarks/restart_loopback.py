"""ICE restart overhead and media loss on a healthy loopback path.

Two lab.rtc peers in one process send audio (Opus, 20 ms packets) to each other over host
candidates on 127.0.0.1; signalling is direct function calls (no delay). The script runs N
restarts by `restartIce()` on one side and prints, over all restarts:
- overhead: restartIce() -> first RTP packet received on the new generation's pair
  (at the restarting peer, at the other peer, and the later of the two), median and p95;
- where the time goes: restartIce() -> answer applied, answer -> cut-over (checks);
- media units (RTP packets) lost across all restarts on the healthy path, from RTP sequence
  numbers per SSRC, and the packets received over the old generation after the cut-over.

Usage: .venv/bin/python benchmarks/restart_loopback.py [--restarts 50] [--interval 0.4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from aiortc import RTCConfiguration
from aiortc.mediastreams import AudioStreamTrack

from lab.rtc import IceOptions, MediaReceived, RTCPeerConnection


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary(name: str, values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (
        f"{name:<44} median {statistics.median(ms):7.1f} ms   p95 {p95(ms):7.1f} ms   "
        f"min {min(ms):6.1f}   max {max(ms):6.1f}"
    )


class Receipts:
    def __init__(self) -> None:
        self.first_by_generation: dict[int, float] = {}
        self.by_ssrc: dict[int, set[int]] = {}
        self.count = 0

    def __call__(self, event: MediaReceived) -> None:
        self.first_by_generation.setdefault(event.generation, event.at)
        self.by_ssrc.setdefault(event.ssrc, set()).add(event.sequence_number)
        self.count += 1

    def lost(self) -> int:
        missing = 0
        for numbers in self.by_ssrc.values():
            ordered = sorted(numbers)
            if ordered[-1] - ordered[0] > 60000:
                ordered = sorted(n + 65536 if n < 32768 else n for n in numbers)
            missing += ordered[-1] - ordered[0] + 1 - len(ordered)
        return missing


async def wait_until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("restart did not complete")
        await asyncio.sleep(0.001)


async def run(restarts: int, interval: float) -> None:
    loop = asyncio.get_running_loop()
    config = RTCConfiguration(iceServers=[])
    options = IceOptions(host_addresses=("127.0.0.1",))
    a = RTCPeerConnection(config, ice=options)
    b = RTCPeerConnection(config, ice=options)
    at_a, at_b = Receipts(), Receipts()
    a.on("mediareceived", at_a)
    b.on("mediareceived", at_b)
    cutovers: dict[int, float] = {}
    a.on("selectedcandidatepairchange", lambda c: cutovers.setdefault(c.pair.generation, c.at))
    a.addTrack(AudioStreamTrack())
    b.addTrack(AudioStreamTrack())
    answered: dict[int, float] = {}
    restarting = False

    @a.on("negotiationneeded")
    async def negotiate() -> None:
        await a.setLocalDescription()
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription()
        await a.setRemoteDescription(b.localDescription)
        if restarting:
            (transport,) = a.getIceTransports()
            answered[transport.iceGatherer.described.number] = loop.time()

    await wait_until(lambda: at_a.count > 10 and at_b.count > 10, timeout=20)
    restarting = True
    (transport,) = a.getIceTransports()
    started: dict[int, float] = {}
    for _ in range(restarts):
        generation = transport.activeGeneration.number + 1
        started[generation] = loop.time()
        a.restartIce()
        await wait_until(
            lambda g=generation: (
                g in at_a.first_by_generation  # type: ignore[misc]
                and g in at_b.first_by_generation
            )
        )
        await asyncio.sleep(interval)
    await asyncio.sleep(0.5)

    generations = sorted(started)
    at_restarter = [at_a.first_by_generation[g] - started[g] for g in generations]
    at_other = [at_b.first_by_generation[g] - started[g] for g in generations]
    both = [max(x, y) for x, y in zip(at_restarter, at_other, strict=True)]
    signalling = [answered[g] - started[g] for g in generations]
    checks = [cutovers[g] - answered[g] for g in generations]
    print(f"ICE restart on loopback host candidates: {restarts} restarts, audio both ways")
    print(summary("overhead, first RTP on new pair (restarter)", at_restarter))
    print(summary("overhead, first RTP on new pair (other side)", at_other))
    print(summary("overhead, first RTP on new pair (both ways)", both))
    print(summary("  restartIce() -> answer applied", signalling))
    print(summary("  answer applied -> cut-over (ICE checks)", checks))
    print(
        f"RTP packets lost across {restarts} restarts: {at_a.lost() + at_b.lost()} "
        f"(received {at_a.count + at_b.count} in all)"
    )
    stats = await a.getStats()
    ice = next(s for s in stats.values() if s.type == "transport")
    print(
        f"final generation {ice.generation}, restarts {ice.restarts}, "
        f"dropped sends {ice.droppedSends}"
    )
    await a.close()
    await b.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--restarts", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.4, help="seconds between restarts")
    args = parser.parse_args()
    asyncio.run(run(args.restarts, args.interval))


if __name__ == "__main__":
    main()
