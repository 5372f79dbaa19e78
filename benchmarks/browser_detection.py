"""When a browser's own ICE says 'disconnected' and 'failed' after its path silently dies.

    .venv/bin/python benchmarks/browser_detection.py [--kind firefox] [--rounds 3]

Per round a fresh aiortc (alice; --other) <-> browser (bob) call on topologies/two_peers.toml:
blackhole the browser's NAT uplink (nat_b wan: nothing in or out, no interface event), wait for
the browser's 'failed' (up to 60 s), lift the blackhole, ICE restart (--restart-by) and record
whether media came back both ways within 20 s.
Prints, per round, the first 'disconnected' and 'failed' (ICE and connection state) in seconds
after the blackhole. The physical limit of detection is 0 (a path that dies silently cannot be
told from a quiet one before a check goes unanswered); what is measured is the engine's timers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ICELAB_SCOPE", f"bench{os.getpid()}")

from lab.contract import Restart  # noqa: E402
from tests.browsers.harness import LabCall  # noqa: E402


async def one_round(index: int, kind: str, out: Path, restart_by: str, other: str) -> dict[str, float]:
    """A fresh call: blackhole the browser's uplink until it says 'failed', lift, restart ICE."""
    kinds = {"offerer": other, "answerer": kind}
    async with LabCall("two_peers", f"dt{kind[0]}{index}", {"offerer": "alice", "answerer": "bob"}, kinds,
                       out / f"round{index}") as call:
        await call.wait(lambda: call.media_flowing(0), 90, "media both ways")
        await asyncio.sleep(3.0)  # steady state: consent checks at their stable pace
        t_fault = time.monotonic()
        await call.call(call.net.impair.blackhole, "nat_b", "wan")
        try:
            await call.wait(lambda: call.state("answerer") == "failed"
                            or call.state("answerer", "ice_state") == "failed", 60, f"{kind}'s 'failed'")
            await asyncio.sleep(0.5)
        finally:
            await call.call(call.net.impair.unblackhole, "nat_b", "wan")
        row: dict[str, float] = {}
        for event in ("ice_state", "connection_state"):
            for state in ("disconnected", "failed"):
                times = [float(r["t"]) - t_fault for r in call.of("answerer", event, t_fault) if r["state"] == state]
                row[f"{event}.{state}"] = min(times) if times else float("nan")
        # after 'failed': does an ICE restart bring media back both ways? (a finding, not a wait)
        t_restart = time.monotonic()
        call.send(restart_by, Restart(reason="bench"))
        with contextlib.suppress(AssertionError):
            await call.wait(lambda: call.media_flowing(time.monotonic() - 0.5), 20, "media after the restart")
        row["media back both ways"] = float(call.media_flowing(time.monotonic() - 0.5))
        row[f"units at the {other} after restart"] = float(call.rx_since("offerer", t_restart))
        return row


async def measure(kind: str, rounds: int, out: Path, restart_by: str, other: str = "aiortc") -> list[dict[str, float]]:
    results = []
    for index in range(rounds):
        row = await one_round(index, kind, out, restart_by, other)
        results.append(row)
        print(f"round {index}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", default="firefox", choices=["firefox", "chromium"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--restart-by", default="offerer", choices=["offerer", "answerer"],
                        help="who restarts ICE after each round (offerer: aiortc, answerer: the browser)")
    parser.add_argument("--other", default="aiortc", choices=["aiortc", "chromium", "firefox"],
                        help="the kind of the other peer (alice)")
    parser.add_argument("--out", type=Path, default=None, help="events and logs (default: a new temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="icelab-detect-"))
    print(f"events and agent logs in {out}", flush=True)
    results = asyncio.run(measure(args.kind, args.rounds, out, args.restart_by, args.other))
    print(f"\n{args.kind}, {len(results)} rounds, seconds after the path died (limit: 0 s)")
    for key in results[0]:
        values = [r[key] for r in results if r[key] == r[key]]
        if values:
            print(f"  {key:28} median {statistics.median(values):6.2f}  min {min(values):6.2f}  max {max(values):6.2f}")
        else:
            print(f"  {key:28} never")


if __name__ == "__main__":
    main()
