"""Janus in the lab: start until its API answers, and what a run through it costs and measures.

    ICELAB_SCOPE=w17 .venv/bin/python benchmarks/sfu.py [--starts 10] [--runtime docker] [--run runs/<sfu_vs_p2p run>]

1. Janus start -> its WebSocket API answered `info` (lab.sfu.Janus.start), `--starts` times on the
   sfu_phone topology (kill -9 between starts), where `--runtime` runs it (netns: a process in the
   sfu host's namespace; docker: exec'd into the sfu host's container, image icelab/sfu). Limit:
   starting any process there and reaping it (`true`, the same popen path); ratio = start / limit.
2. From a run folder (`icelab run experiments/sfu_vs_p2p.toml`): per path, the trial set-up
   (setup_ms: topology, relay, signaling or Janus) and call set-up (connect_ms: start -> media at
   the subscriber), and the median media gap per policy with and without the SFU, with the trial
   counts. Limit of a gap: the handover's physical floor at the run's RTT, one round trip for the
   restart's offer/answer plus one for the connectivity check (2 x RTT); ratio = gap / limit.
Prints the figures; asserts nothing. The machine is shared: figures vary with its load.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.experiment.testbed import Lab  # noqa: E402
from lab.sfu import SfuSpec  # noqa: E402


def exec_floor_ms(lab: Lab, times: int) -> float:
    assert lab.runtime is not None
    samples = []
    for _ in range(times):
        t0 = time.monotonic()
        popen = getattr(lab.runtime, "popen", None)  # docker: `docker exec` into the container
        if popen is not None:
            popen("sfu", ["true"], stdout=subprocess.DEVNULL).wait()
        else:
            lab.net.run("sfu", ["true"], stdout=subprocess.DEVNULL)
        samples.append((time.monotonic() - t0) * 1000.0)
    return statistics.median(samples)


def janus_starts(times: int, runtime: str) -> tuple[list[float], float]:
    samples = []
    with tempfile.TemporaryDirectory() as out:
        lab = Lab(ROOT / "topologies" / "sfu_phone.toml", name="bsfu", runtime=runtime, out_dir=Path(out),
                  peers=[], relays=False)
        try:
            lab.up()
            janus = lab.attach_sfu(SfuSpec(turn=False))  # docker: the sfu host's container starts here
            floor = exec_floor_ms(lab, 5)
            for _ in range(times):
                samples.append(janus.start() * 1000.0)
                janus.kill()
        finally:
            lab.close()
    return samples, floor


def run_figures(run: Path) -> None:
    from lab.analysis.load import load_runs

    trials = load_runs([run]).trials
    if "path" not in trials:
        trials["path"] = "p2p"
    print(f"\nrun {run}: {len(trials)} trials")
    print(f"{'path':>5} {'n':>3} {'setup_ms median':>16} {'connect_ms median':>18}")
    for path, group in trials.groupby("path"):
        print(f"{path:>5} {len(group):>3} {group['setup_ms'].median():>16.0f} {group['connect_ms'].median():>18.0f}")
    if "sfu_start_ms" in trials:
        starts = trials["sfu_start_ms"].dropna()
        print(f"of the sfu set-up, Janus start -> API answered: median {starts.median():.0f} ms (n={len(starts)})")
    print(f"\n{'policy':>20} {'path':>5} {'RTT':>4} {'recovered':>9} {'median gap ms':>14} {'limit ms':>9} {'ratio':>6}")
    for (policy, rtt, path), group in trials.groupby(["policy", "rtt_ms", "path"]):
        ok = group[group["recovered"].astype(bool)]
        gap = ok["media_gap_ms"].median() if len(ok) else float("nan")
        limit = 2 * float(rtt)
        ratio = gap / limit if limit > 0 and len(ok) else float("nan")
        print(f"{policy:>20} {path:>5} {rtt:>4.0f} {len(ok):>4} of {len(group):<2} {gap:>14.0f} {limit:>9.0f} {ratio:>6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--runtime", choices=["netns", "docker"], default="netns")
    parser.add_argument("--run", type=Path, default=None, help="a run folder of experiments/sfu_vs_p2p.toml")
    args = parser.parse_args()
    starts, floor = janus_starts(args.starts, args.runtime)
    median = statistics.median(starts)
    print(f"{args.runtime}: Janus start -> API answered: median {median:.0f} ms (min {min(starts):.0f}, max {max(starts):.0f}, "
          f"n={len(starts)}); limit (a process started and reaped there) {floor:.0f} ms; ratio {median / floor:.1f}")
    if args.run is not None:
        run_figures(args.run)


if __name__ == "__main__":
    main()
