"""What a browser peer costs, Firefox next to Chromium: agent spawn -> first media, and memory
per browser peer (summed PSS: shared pages split between their users).

    .venv/bin/python benchmarks/browser_overhead.py [--calls 5] [--kinds firefox chromium]

Each call is a fresh aiortc (alice) <-> browser (bob) call on topologies/two_peers.toml, started
the way a trial starts it (benchmarks/chromium_overhead.py explains the figures); the kinds
alternate call by call so both see the same machine load. Prints the figures; asserts nothing.
The physical limit of start -> first media is one signaling round trip plus one connectivity
check and a packet's trip: a few ms on this topology (RTT 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("ICELAB_SCOPE", f"bench{os.getpid()}")

from chromium_overhead import descendants, describe, memory_kib  # noqa: E402

from tests.chromium.harness import LabCall  # noqa: E402

LABEL = {"chromium": "Chromium (Playwright driver)", "firefox": "Firefox ESR (WebDriver BiDi)"}


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
        rss, pss, processes, by_exe = memory_kib(descendants(call.agents["answerer"].pid))
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
    started = time.monotonic()
    try:
        asyncio.run(main())
    finally:
        from lab.net.cleanup import clean

        clean(os.environ["ICELAB_SCOPE"])  # this benchmark's scope: namespaces, state folders
