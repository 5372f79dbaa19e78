"""Handover variants and browser state: where a Wi-Fi -> LTE handover's media gap goes.

    ICELAB_SCOPE=w19 .venv/bin/python benchmarks/handover_variants.py [--trials 5] [--rtt 20,100]
        [--peers chromium,aiortc] [--variants standby,cold] [--states warm,fresh] [--out DIR]
    .venv/bin/python benchmarks/handover_variants.py --report DIR     # print an earlier run again

One `icelab run` per cell on topologies/phone_handover.toml (the phone's uplinks are named wlan0
and wwan0, so that Chromium prefers Wi-Fi as a phone does; see the file). Column "on src": trials
whose phone media ran on the source interface (Wi-Fi) just before the fault.

Cells: phone <-> peer, both of one kind
(Chromium <-> Chromium or aiortc <-> aiortc), policy on-network-change, the handover fault in
the given variant (lab.experiment.spec.HandoverFault), and for browsers the given browser_state
(lab.experiment.browser_state; aiortc peers have none). Per cell it prints the median over the
trials of: the media gap (fault -> media back at both receivers), each phase of the lab's
metrics (detection, decision, signaling, checks, first media), and "LTE candidate": from the
phone's restart to its first candidate of the new ICE generation gathered on LTE (from the
candidate_sent events; "-" when the peer kind does not name interfaces, or no restart was made).

The physical limit printed beside the gap (RTT r between the peers, a link event detected at once):
    standby  0.5 r: the call already has a checked pair on LTE (generation 0); the first packet
             after the break can take it (half a path), no restart needed
    cold     3 r: no pair exists on LTE before the fault: restart offer/answer through the
             signaling server (1 r), one connectivity check (1 r), half a path for the first
             packet, rounded up (the srflx query overlaps signaling only with trickle;
             notes/recovery.md)
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ICELAB_SCOPE", f"bench{os.getpid()}")

EXPERIMENT = """
name = "{name}"
topology = "{topology}"
seed = 19
repetitions = {trials}
policies = ["on-network-change"]

[peers]
offerer = "phone"
answerer = "peer"
polite = "answerer"
kind = "{kind}"
browser_state = "{state}"

[fault]
type = "handover"
host = "phone"
from_iface = "wlan0"
to_iface = "wwan0"
variant = "{variant}"
at_s = 3

[matrix]
rtt_ms = [{rtt}]

[timeouts]
connect_s = 60
recover_s = 30
trial_s = 120
"""

PHASES = ["detection_ms", "decision_ms", "signaling_ms", "checks_ms", "first_media_ms"]
# the phone's addresses in phone_handover.toml: its own and its NAT's public one, per uplink
SOURCE_PREFIXES = ("192.168.1.", "198.51.100.10:")
TARGET_PREFIXES = ("100.72.0.", "198.51.100.30:")


def media_on_source(events: pd.DataFrame, trial_id: str) -> bool | None:
    """Did the phone's selected pair just before the fault use its Wi-Fi (None: unknown)?"""
    mine = events[events["trial_id"] == trial_id]
    t_fault = float(mine[mine["kind"] == "fault"]["t_monotonic"].min())
    pairs = mine[(mine["peer"] == "offerer") & (mine["kind"] == "selected_pair") & (mine["t_monotonic"] < t_fault)]
    if pairs.empty:
        return None
    local = json.loads(pairs["detail"].iloc[-1]).get("local_address", "")
    if local.startswith(SOURCE_PREFIXES):
        return True
    return False if local.startswith(TARGET_PREFIXES) else None


def lte_candidate_ms(events: pd.DataFrame, trial_id: str) -> float:
    """The phone's restart -> its first candidate of a new generation on LTE (NaN if none)."""
    mine = events[(events["trial_id"] == trial_id) & (events["peer"] == "offerer")]
    t_fault = float(events[(events["trial_id"] == trial_id) & (events["kind"] == "fault")]["t_monotonic"].min())
    restarts = mine[(mine["kind"] == "restart") & (mine["t_monotonic"] >= t_fault)]
    if restarts.empty:
        return float("nan")
    t_restart = float(restarts["t_monotonic"].min())
    for t, detail in zip(mine["t_monotonic"], mine["detail"], strict=False):
        d = json.loads(detail)
        if t >= t_restart and d.get("interface") == "wwan0" and (d.get("generation") or 0) >= 1 \
                and not d.get("end_of_candidates") and d.get("type"):
            return (float(t) - t_restart) * 1000.0
    return float("nan")


def median(values: list[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


def fmt(value: float) -> str:
    return "-" if value != value else f"{value:.0f}"


def cells(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    out = []
    for kind in args.peers.split(","):
        states = args.states.split(",") if kind != "aiortc" else ["warm"]  # aiortc: no browser history
        for variant in args.variants.split(","):
            for state in states:
                out.append((kind, variant, state))
    return out


def run_cell(out: Path, kind: str, variant: str, state: str, args: argparse.Namespace) -> Path:
    name = f"hv_{kind}_{variant}_{state}"
    folder = out / name
    if (folder / "trials.parquet").is_file():
        return folder  # done in an earlier invocation
    experiment = out / f"{name}.toml"
    topology = ROOT / "topologies" / "phone_handover.toml"
    experiment.write_text(EXPERIMENT.format(name=name, topology=topology, trials=args.trials, kind=kind,
                                            state=state, variant=variant, rtt=args.rtt))
    t0 = time.monotonic()
    print(f"running {name} ({args.trials} trials x RTT {args.rtt} ms)...", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-m", "lab", "run", str(experiment), "--out", str(folder)],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    print(f"  {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return folder


def report(out: Path) -> None:
    header = (f"{'peers':9} {'variant':8} {'browser':7} {'RTT':>4} {'n':>3} {'rec':>4} {'on src':>6} {'gap ms':>7} "
              f"{'limit':>6} {'ratio':>6} {'detect':>6} {'decide':>6} {'signal':>6} {'checks':>6} "
              f"{'1st med':>7} {'LTE cand':>8}")
    print(header)
    print("-" * len(header))
    for folder in sorted(p for p in out.iterdir() if (p / "trials.parquet").is_file()):
        trials = pd.read_parquet(folder / "trials.parquet")
        events = pd.read_parquet(folder / "events.parquet")
        _, kind, variant, state = folder.name.split("_")
        for rtt, group in trials.groupby("rtt_ms"):
            gap = median(list(group["media_gap_ms"]))
            limit = (0.5 if variant == "standby" else 3.0) * float(rtt)
            phases = [median(list(group[p])) for p in PHASES]
            cand = median([lte_candidate_ms(events, t) for t in group["trial_id"]])
            browser = state if kind != "aiortc" else "n/a"
            on_source = sum(1 for t in group["trial_id"] if media_on_source(events, t))
            print(f"{kind:9} {variant:8} {browser:7} {rtt:4.0f} {len(group):3d} "
                  f"{int(group['recovered'].sum()):4d} {on_source:6d} {fmt(gap):>7} {limit:6.0f} "
                  f"{(gap / limit if limit and gap == gap else float('nan')):6.1f} "
                  + " ".join(f"{fmt(p):>6}" for p in phases[:4]) + f" {fmt(phases[4]):>7} {fmt(cand):>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rtt", default="20,100", help="RTTs in ms, comma-separated")
    parser.add_argument("--peers", default="chromium,aiortc")
    parser.add_argument("--variants", default="standby,cold")
    parser.add_argument("--states", default="warm,fresh")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--report", type=Path, default=None, help="only print the figures of an earlier --out")
    args = parser.parse_args()
    if args.report is not None:
        report(args.report)
        return
    out = args.out or Path(ROOT, "runs", f"handover-variants-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    for kind, variant, state in cells(args):
        run_cell(out, kind, variant, state, args)
    print(f"\n{out}: on-network-change, medians over trials; times in ms; limit: standby 0.5 RTT, cold 3 RTT; "
          f"machine: 2 shared cores (load during the run: {os.getloadavg()[0]:.1f})")
    report(out)


if __name__ == "__main__":
    main()
