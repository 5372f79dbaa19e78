"""The page's performance.now() mapped onto this process's time.monotonic().

Both count from CLOCK_MONOTONIC on Linux, so the offset is constant; it is measured with
page.evaluate round trips: offset = midpoint of the round trip - performance.now(). The true
offset lies within +- half the round trip of the estimate (plus performance.now()'s coarsening,
0.1 ms in a page that is not cross-origin isolated); the best of several rounds is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

PERFORMANCE_NOW_STEP_MS = 0.1


@dataclass(frozen=True)
class ClockOffset:
    offset_s: float         # monotonic = offset_s + performance.now() / 1000
    uncertainty_ms: float   # half the best round trip, plus performance.now()'s step
    rtt_ms: float
    rounds: int

    def to_monotonic(self, page_ms: float) -> float:
        return self.offset_s + page_ms / 1000.0


async def measure(page: Any, rounds: int = 9) -> ClockOffset:
    best: tuple[float, float] | None = None
    for _ in range(rounds):
        t0 = time.monotonic()
        page_ms = float(await page.evaluate("performance.now()"))
        t1 = time.monotonic()
        rtt = t1 - t0
        if best is None or rtt < best[0]:
            best = (rtt, (t0 + t1) / 2.0 - page_ms / 1000.0)
    assert best is not None
    rtt, offset = best
    return ClockOffset(offset, rtt * 500.0 + PERFORMANCE_NOW_STEP_MS, rtt * 1000.0, rounds)
