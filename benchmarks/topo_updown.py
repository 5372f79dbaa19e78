"""Up and down time of the two-peer topology (median of 20). Prints the figures; needs root.

    .venv/bin/python benchmarks/topo_updown.py [--runs 20] [--topology topologies/two_peers.toml]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("ICELAB_SCOPE", f"bench{os.getpid()}")

from lab.net import Network, load_topology  # noqa: E402
from lab.net.cleanup import clean  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--topology", default=str(ROOT / "topologies" / "two_peers.toml"))
    parser.add_argument("--settle", type=float, default=0.5,
                        help="pause (s) before each run of the second series")
    args = parser.parse_args()
    topo = load_topology(args.topology)
    print(f"topology: {Path(args.topology).name}, {len(topo.spec.hosts)} hosts, "
          f"{len(topo.spec.routers)} routers, {len(topo.spec.links)} links, {args.runs} runs per series")
    try:
        Network.up(topo, name="warmup").down()  # loads libnftables, warms caches
        # Back to back: the kernel is still freeing the previous run's namespaces (it does that
        # asynchronously after down returns) and competes for the same locks.
        series("back-to-back", topo, args.runs, pause=0.0)
        series(f"settled ({args.settle} s apart)", topo, args.runs, pause=args.settle)
    finally:
        clean(os.environ["ICELAB_SCOPE"])


def series(title: str, topo, runs: int, pause: float) -> None:
    ups: list[float] = []
    downs: list[float] = []
    for i in range(runs):
        time.sleep(pause)
        started = time.perf_counter()
        net = Network.up(topo, name=f"bench{i}")
        built = time.perf_counter()
        net.down()
        done = time.perf_counter()
        ups.append((built - started) * 1000)
        downs.append((done - built) * 1000)
    up, down = statistics.median(ups), statistics.median(downs)
    total = statistics.median(u + d for u, d in zip(ups, downs, strict=False))
    print(f"{title}:")
    print(f"  up:        median {up:6.1f} ms  (min {min(ups):.1f}, max {max(ups):.1f})")
    print(f"  down:      median {down:6.1f} ms  (min {min(downs):.1f}, max {max(downs):.1f})")
    print(f"  up + down: median {total:6.1f} ms  (goal <= 150 ms)")


if __name__ == "__main__":
    main()
