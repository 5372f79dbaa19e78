"""What a browser peer costs, for each browser kind: agent spawn -> first media, and memory
per browser peer.

    .venv/bin/python benchmarks/browser_overhead.py [--calls 5] [--kinds firefox chromium]

Each call is a fresh aiortc (alice) <-> browser (bob) call on topologies/two_peers.toml (two
port-restricted NATs, coturn for STUN, the lab's signaling server), started the way a trial
starts it; the kinds alternate call by call so all see the same machine load. Per call, on
CLOCK_MONOTONIC:
    spawn -> browser ready   agent process started -> browser launched, page loaded, clock synced
    start -> first media     "start" command -> first media unit received at both ends
    spawn -> first media     the whole browser peer start-up: agent spawn -> media both ways
Memory, measured 2 s into each call: the browser agent process and all its descendants (the
browser's processes; Chromium's Playwright driver too): summed RSS (counts shared pages once per
process, an upper bound) and summed PSS (shared pages split between their users).
Prints the figures; asserts nothing. The physical limit of start -> first media is one signaling round trip plus one connectivity
check and a packet's trip: a few ms on this topology (RTT 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ICELAB_SCOPE", f"bench{os.getpid()}")

from lab.runtime.chromium.browser import descendants  # noqa: E402
from tests.browsers.harness import LabCall  # noqa: E402

LABEL = {"chromium": "Chromium (Playwright driver)", "firefox": "Firefox ESR (WebDriver BiDi)"}


def memory_kib(pids: list[int]) -> tuple[int, int, int, dict[str, int]]:
    """(summed RSS, summed PSS, processes, PSS by executable) in KiB."""
    rss = pss = count = 0
    by_exe: dict[str, int] = {}
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            exe = Path(f"/proc/{pid}/exe").resolve().name
        except OSError:
            continue
        count += 1
        for line in text.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                kib = int(line.split()[1])
                pss += kib
                by_exe[exe] = by_exe.get(exe, 0) + kib
    return rss, pss, count, by_exe


def describe(name: str, values: list[float], unit: str) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return (f"  {name:<28} median {statistics.median(values):8.1f} {unit}   min {values[0]:8.1f}   "
            f"p90 {p90:8.1f}   max {values[-1]:8.1f}")


async def one_call(kind: str, index: int, out: Path) -> dict[str, float]:
    kinds = {"offerer": "aiortc", "answerer": kind}
    call = LabCall("two_peers", f"bo{kind[0]}{index}", {"offerer": "alice", "answerer": "bob"}, kinds,
                   out / f"{kind}{index}")
    await call.__aenter__()
    try:
        await call.wait(lambda: call.media_flowing(0, units=1), 90, "first media both ways")
        first_media = max(min(float(r["t"]) for r in call.of(role, "media_rx")) for role in ("offerer", "answerer"))
        ready = call.of("answerer", "browser_ready")[0]
        t_spawn = call.spawned_at["answerer"]
        await asyncio.sleep(2.0)
        rss, pss, processes, by_exe = memory_kib(descendants([call.agents["answerer"].pid]))
        return {
            "spawn_ready_ms": (float(ready["t"]) - t_spawn) * 1000.0, "launch_ms": float(ready["launch_ms"]),
            "start_media_ms": (first_media - call.started_at) * 1000.0,
            "spawn_media_ms": (first_media - t_spawn) * 1000.0,
            "rss_mib": rss / 1024.0, "pss_mib": pss / 1024.0, "processes": processes,
            **{f"pss_{exe}_mib": kib / 1024.0 for exe, kib in by_exe.items()},
        }
    finally:
        await call.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5, help="calls per kind")
    parser.add_argument("--kinds", nargs="+", default=["firefox", "chromium"], choices=list(LABEL))
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in args.kinds}
    with tempfile.TemporaryDirectory(prefix="browser-overhead-") as tmp:
        for index in range(args.calls):
            for kind in args.kinds:
                r = await one_call(kind, index, Path(tmp))
                results[kind].append(r)
                print(f"{kind} call {index + 1}/{args.calls}: spawn->media {r['spawn_media_ms']:.0f} ms, "
                      f"PSS {r['pss_mib']:.0f} MiB", flush=True)
    load = os.getloadavg()
    print(f"\nbrowser peer overhead, {args.calls} calls per kind (aiortc <-> browser, two_peers, netns runtime, "
          f"{os.cpu_count()} cores, load average {load[0]:.1f} at the end)")
    for kind, rows in results.items():
        print(f"{LABEL[kind]}:")
        print(describe("spawn -> browser ready", [r["spawn_ready_ms"] for r in rows], "ms"))
        print(describe("  of which browser launch", [r["launch_ms"] for r in rows], "ms"))
        print(describe("start -> first media", [r["start_media_ms"] for r in rows], "ms"))
        print(describe("spawn -> first media", [r["spawn_media_ms"] for r in rows], "ms"))
        print(describe("memory, summed RSS", [r["rss_mib"] for r in rows], "MiB"))
        print(describe("memory, summed PSS", [r["pss_mib"] for r in rows], "MiB"))
        for key in sorted({k for r in rows for k in r if k.startswith("pss_") and k != "pss_mib"}):
            exe = key.removeprefix("pss_").removesuffix("_mib")
            print(describe(f"  PSS of {exe}", [r.get(key, 0.0) for r in rows], "MiB"))
        print(f"  processes per browser peer:  {statistics.median([r['processes'] for r in rows]):.0f}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    finally:
        from lab.net.cleanup import clean

        clean(os.environ["ICELAB_SCOPE"])  # this benchmark's scope: namespaces, state folders
