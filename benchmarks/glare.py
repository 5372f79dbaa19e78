"""Print how perfect negotiation resolves glare on lab.rtc peers (loopback, in-memory signaling).

Each repetition: both peers call restartIce() at the same instant (random offsets below half
the signaling delay), the impolite peer adds an audio transceiver and the polite one a video
transceiver. Measured: how many repetitions collided, offers and answers exchanged, and the time
from the trigger until both changes are negotiated (each on its own m-line), both peers are
stable, on the new ICE generation and ICE-connected, with a data-channel round trip done.
Run: .venv/bin/python benchmarks/glare.py [repetitions] [one-way signaling delay ms]
"""

from __future__ import annotations

import asyncio
import collections
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.rtc.signaling import MemoryChannelPair, SignalingImpairments  # noqa: E402
from tests.negotiation.conftest import open_call  # noqa: E402
from tests.negotiation.test_glare import glare_repetition  # noqa: E402


async def main(repetitions: int, delay_ms: float) -> None:
    rng = random.Random(7)
    results = []
    while len(results) < repetitions:
        pair = MemoryChannelPair(
            SignalingImpairments(delay_ms=delay_ms, jitter_ms=delay_ms / 4, seed=rng.randrange(10**6)),
            SignalingImpairments(delay_ms=delay_ms, jitter_ms=delay_ms / 4, seed=rng.randrange(10**6)),
            names=("impolite", "polite"),
        )
        pair.start()
        call = await open_call(pair)
        try:
            for _ in range(min(10, repetitions - len(results))):
                results.append(await glare_repetition(call, rng, max_offset_s=delay_ms / 2000))
        finally:
            await call.close()
    times = sorted(r["seconds"] for r in results)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    offers = collections.Counter(int(r["offers_sent"]) for r in results)
    answers = collections.Counter(int(r["answers_sent"]) for r in results)
    print(f"glare, {repetitions} repetitions, signaling one-way delay {delay_ms:.0f} ms (+-{delay_ms / 4:.0f} ms):")
    print(f"  collided: {sum(1 for r in results if r['glare'])}/{repetitions}")
    print(f"  trigger -> both stable, restarted, connected: median {statistics.median(times) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms")
    print(f"  offers per repetition: {dict(sorted(offers.items()))}; answers: {dict(sorted(answers.items()))}")
    print(f"  InvalidStateError: {int(sum(r['invalid_state_errors'] for r in results))}, "
          f"other errors: {int(sum(r['errors'] for r in results))}")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    d = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    asyncio.run(main(n, d))
