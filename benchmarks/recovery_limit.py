"""How close recovery comes to the physical limit of each shipped fault.

    ICELAB_SCOPE=w13 .venv/bin/python benchmarks/recovery_limit.py [--trials 5] [--jobs 1]
        [--kinds aiortc,chromium] [--faults handover,binding_expiry,relay_kill,blackhole]
        [--rtt 20,100] [--out runs/recovery_limit] [--recompute]

Runs the shipped experiments (experiments/handover.toml, binding_expiry.toml, relay_kill.toml,
and transient_blackhole.toml as "a blackhole") with the policies that restart soonest, for both
peers aiortc (lab.rtc) and both peers Chromium, and prints per fault, peers, policy and RTT:
the number of trials, the median recovery (fault -> media flowing both ways again, from the
trial metrics), the physical limit of that scenario, their ratio, and the phase whose median
dominates (detection, decision, signaling, checks, first media; "old path" when media came back
before any restart's new pair carried it).

Physical limits, with r the RTT between the peers (the matrix shapes both peers' uplinks, r/4
per egress, so a peer's round trip to the relay or signaling server is r/2). "Path" is the
instant the new path is usable: the handover's `standby` variant (the shipped default) and
`overlap` have LTE up, addressed and routed before the break, so it is the break itself (0);
`cold` and `gap` bring LTE up at or after it, so it is the phone's first default-route event
after the fault. The handover limits count from there:
    handover, restarting policy   3.5 r      link event ~0; the signaling WebSocket re-opened over
                                             LTE (its TCP connection was bound to the Wi-Fi
                                             address, which is gone: TCP handshake r/2 + WebSocket
                                             upgrade r/2 = r; a real app pays this too, nothing
                                             moves a TCP connection to a new address); the
                                             restart offer to the remote through the server (r/2)
                                             and the answer back (r/2); one check (r: the phone
                                             can check only once it has the answer, and the
                                             remote's NAT lets the phone in because the remote has
                                             been checking the phone's new candidates since the
                                             offer); the first media packet across (r/2)
    handover, continual gathering  standby/overlap: r  LTE's candidates were gathered and paired
                                             when the call began; a stack that keeps its backup
                                             pairs warm (libwebrtc pings them) nominates the LTE
                                             pair at once: the nomination reaches the remote in
                                             r/2, whose media is back at the phone r/2 later.
                                             lab.rtc keeps no backup pings: at the break it checks
                                             the LTE pairs again (r, through the remote NAT's
                                             mapping left by the first checks) and announces
                                             them again over the re-opened signaling, so that
                                             the remote's checks open its NAT when that mapping
                                             is gone (r + r/2 + r)
                                   cold/gap: 3 r  the signaling re-opened (r), the new candidate
                                             trickled to the remote (r/2), one check (r), the
                                             first media across (r/2); no offer/answer
    blackhole of T s              T + r      nothing beats T; then one check
    binding_expiry (relayed)      C/2 + 3.5 r  a silent break is seen at the next consent probe
                                             (C = the experiment's consent interval; C/2 on
                                             average) unanswered (r); a new allocation (Allocate
                                             with its 401 challenge, 2 r_t = r) named in the
                                             restart's offer/answer (r), CreatePermission
                                             (r_t = r/2), not counting 'disconnected_after'
    relay_kill, back after D s    D + 3 r    Allocate (r), the relay candidate trickled (r/2),
                                             CreatePermission (r/2), one check (r)
    handover_overlap (opt-in)     0          make-before-break: LTE is up 2 s before Wi-Fi goes;
                                             read the units lost (0 at the limit)
For handover and blackhole it also prints recovery counted from the instant the path is usable
(handover: 0 for standby/overlap, the LTE route event for cold/gap; blackhole: T). Prints figures
only; asserts nothing. Machines are shared: read the figures with the load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.experiment.faults.handover import Handover  # noqa: E402
from lab.experiment.metrics import metrics_table  # noqa: E402
from lab.experiment.runner import run_experiment  # noqa: E402
from lab.experiment.spec import parse_experiment  # noqa: E402

PHASES = ("detection_ms", "decision_ms", "signaling_ms", "checks_ms", "first_media_ms")


@dataclass(frozen=True)
class Fault:
    name: str
    file: str
    policies: dict[str, list[object]]  # peer kind -> policies run
    # peer kind -> another experiment file (a browser phone's own experiment, e.g. Chromium's
    # handover with the policies a page offers)
    files: dict[str, str] = field(default_factory=dict)

    def file_for(self, kind: str) -> str:
        return self.files.get(kind, self.file)

    def limit_ms(self, spec: dict[str, object], policy: str, rtt: float) -> tuple[float, str]:
        fault = spec["fault"]
        assert isinstance(fault, dict)
        if self.name == "handover_overlap":
            return 0.0, "0"
        if self.name == "handover":
            if policy == "continual-gathering":
                if handover_variant(fault) in ("standby", "overlap"):
                    return rtt, "r"
                return 3 * rtt, "3 r"
            return 3.5 * rtt, "3.5 r"
        if self.name == "blackhole":
            t = float(fault.get("duration_s", 3)) * 1000
            return t + rtt, "T + r"
        if self.name == "binding_expiry":
            ice = spec.get("ice", {})
            assert isinstance(ice, dict)
            consent = float(ice.get("consent_interval_s", 1.0)) * 1000
            return consent / 2 + 3.5 * rtt, "C/2+3.5 r"
        if self.name == "relay_kill":
            back = float(fault.get("restart_after_s", 0) or 0) * 1000
            return back + 3 * rtt, "D + 3 r"
        raise ValueError(self.name)


FAULTS = {
    "handover": Fault("handover", "handover.toml", {
        "aiortc": ["on-network-change", "continual-gathering"],
        "chromium": ["on-network-change"],
    }, files={"chromium": "chromium_handover.toml"}),
    # make-before-break (not run by default): LTE up 2 s before Wi-Fi goes; the figure that
    # matters is the units lost (0 is the limit)
    "handover_overlap": Fault("handover_overlap", "handover_overlap.toml", {
        "aiortc": ["on-network-change", "continual-gathering"],
        "chromium": ["on-network-change"],
    }),
    "binding_expiry": Fault("binding_expiry", "binding_expiry.toml", {
        "aiortc": ["on-disconnected"], "chromium": ["on-disconnected"],
    }),
    "relay_kill": Fault("relay_kill", "relay_kill.toml", {
        "aiortc": ["on-disconnected"], "chromium": ["on-disconnected"],
    }),
    "blackhole": Fault("blackhole", "transient_blackhole.toml", {
        "aiortc": ["on-disconnected"], "chromium": ["on-disconnected"],
    }),
}


LIMIT_INCLUDES = {
    "handover": (
        "restart 3.5 r = signaling WebSocket re-opened over LTE (TCP r/2 + upgrade r/2) + offer r/2 "
        "+ answer r/2 + one check r + first media r/2",
        "continual-gathering, standby/overlap: r = nomination of the warm LTE pair r/2 + the "
        "remote's media back r/2; cold/gap: 3 r = re-open r + trickle r/2 + check r + media r/2",
    ),
    "handover_overlap": ("0 units lost (make-before-break)",),
    "binding_expiry": ("C/2 + 3.5 r = next consent probe + its timeout r + Allocate r + offer/answer r "
                       "+ CreatePermission r/2",),
    "relay_kill": ("D + 3 r = relay back + Allocate r + trickle r/2 + CreatePermission r/2 + check r",),
    "blackhole": ("T + r = the outage + one check",),
}


def dominant(rows: pd.DataFrame) -> str:
    """The phase with the largest median, and where the media came back: on the old path, or
    on a new pair without a restart (continual gathering's fail-over: no restart phases)."""
    medians = {p: float(rows[p].dropna().median()) for p in PHASES if rows[p].notna().any()}
    old_path = bool((rows["resumed_on"] == "old-path").all())
    restarted = any(rows[p].notna().any() for p in ("signaling_ms", "checks_ms", "first_media_ms"))
    where = " (media back on the old path)" if old_path else "" if restarted else " (a new pair, no restart)"
    if not medians:
        return "no phases" + where
    name = max(medians, key=lambda k: medians[k])
    return f"{name.removesuffix('_ms')} {medians[name]:.0f} ms{where}"


def handover_variant(fault: dict[str, object]) -> str:
    """The variant a handover fault block runs (the fault's own defaults decide)."""
    return Handover.Params.model_validate(fault).variant


def path_back_ms(fault: Fault, spec: dict[str, object], events: pd.DataFrame, trial: str) -> float:
    """When the new (handover) or restored (blackhole) path became usable, ms after the fault.

    Handover: standby and overlap had LTE up, addressed and routed before the break: 0 (no
    route event need follow the break). cold and gap: the phone's first default-route event
    after the fault (its LTE route; nothing crosses LTE before it), NaN if none was seen.
    The variant is read from the trial's own `fault` event (what ran), else from the spec.
    Blackhole: its duration T. Other faults: 0 (the limit formula covers them)."""
    if fault.name == "blackhole":
        f = spec["fault"]
        assert isinstance(f, dict)
        return float(f.get("duration_s", 3)) * 1000
    if not fault.name.startswith("handover"):
        return 0.0
    f = spec["fault"]
    assert isinstance(f, dict)
    variant = handover_variant(f)
    rows = events[events["trial_id"] == trial] if len(events) else events
    faults = rows[rows["kind"] == "fault"] if len(rows) else rows
    if len(faults):
        variant = str(json.loads(faults["detail"].iloc[0]).get("variant") or variant)
    if variant in ("standby", "overlap"):
        return 0.0
    if not len(faults):
        return math.nan
    t_fault = faults["t_monotonic"].min()
    route = rows[(rows["kind"] == "network_change") & (rows["t_monotonic"] >= t_fault)
                 & rows["detail"].str.contains('"RTM_NEWROUTE"')]
    return float((route["t_monotonic"].min() - t_fault) * 1000) if len(route) else math.nan


def run_cell(fault: Fault, kind: str, rtts: list[float], trials: int, jobs: int, out: Path,
             recompute: bool = False) -> pd.DataFrame:
    path = ROOT / "experiments" / fault.file_for(kind)
    data = tomllib.loads(path.read_text())
    data["policies"] = fault.policies[kind]
    data["repetitions"] = trials
    data["matrix"] = {**data.get("matrix", {}), "rtt_ms": rtts}
    peers = {k: v for k, v in data.get("peers", {}).items() if k not in ("offerer_kind", "answerer_kind")}
    peers["kind"] = kind
    data["peers"] = peers
    data["name"] = f"limit-{fault.name}-{kind}"
    spec = parse_experiment(data, file=path)
    folder = out / f"{fault.name}-{kind}"
    run_experiment(spec, folder, jobs=jobs, resume=folder.exists())
    trials_file = folder / "trials.parquet"
    if not trials_file.exists():
        return pd.DataFrame()
    frame = pd.read_parquet(trials_file)
    events = pd.read_parquet(folder / "events.parquet") if (folder / "events.parquet").exists() else pd.DataFrame()
    if recompute and len(events):
        # the trials' metrics again from their raw events, with this checkout's definitions
        fresh = metrics_table(events, spec.timeouts.recover_s).set_index("trial_id")
        for column in fresh.columns.intersection(frame.columns):
            frame[column] = frame["trial_id"].map(fresh[column])
    frame["path_back_ms"] = [path_back_ms(fault, data, events, t) for t in frame["trial_id"]]
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--kinds", default="aiortc,chromium")
    parser.add_argument("--faults", default="handover,binding_expiry,relay_kill,blackhole",
                        help=f"any of {', '.join(FAULTS)}")
    parser.add_argument("--rtt", default="20,100")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "recovery_limit")
    parser.add_argument("--recompute", action="store_true",
                        help="recompute the trials' metrics from their events (a finished --out run)")
    args = parser.parse_args()
    if not os.environ.get("ICELAB_SCOPE"):
        parser.error("export ICELAB_SCOPE first (the lab's resources are named and cleaned by it)")
    rtts = [float(x) for x in args.rtt.split(",")]
    lines = []
    for name in args.faults.split(","):
        fault = FAULTS[name]
        for kind in args.kinds.split(","):
            spec = tomllib.loads((ROOT / "experiments" / fault.file_for(kind)).read_text())
            frame = run_cell(fault, kind, rtts, args.trials, args.jobs, args.out, args.recompute)
            for (policy, rtt), rows in (frame.groupby(["policy", "rtt_ms"]) if len(frame) else []):
                ok = rows[rows["recovered"].astype(bool)]
                limit, formula = fault.limit_ms(spec, str(policy), float(rtt))
                median = statistics.median(ok["recovery_ms"]) if len(ok) else math.nan
                gap = statistics.median(ok["media_gap_ms"]) if len(ok) else math.nan
                path = statistics.median(ok["path_back_ms"]) if len(ok) else math.nan
                after = statistics.median(ok["recovery_ms"] - ok["path_back_ms"]) if len(ok) else math.nan
                limit_after = limit - (path if fault.name == "blackhole" else 0.0)
                restarts = statistics.median(rows["restarts"]) if len(rows) else math.nan
                lost = statistics.median(ok["units_lost"].dropna()) if ok["units_lost"].notna().any() else math.nan

                def ratio(value: float, bound: float) -> str:
                    return f"{value / bound:>6.2f}" if bound > 0 else f"{'-':>6}"

                lines.append(
                    f"{name:<15} {kind:<9} {str(policy):<20} {rtt:>5.0f} {len(ok):>2}/{len(rows):<2} "
                    f"{median:>8.0f} {gap:>8.0f} {limit:>7.0f} {formula:<9} {ratio(median, limit)} "
                    f"{path:>6.0f} {after:>7.0f} {ratio(after, limit_after)} "
                    f"{restarts:>4.0f} {lost:>5.0f}  {dominant(ok) if len(ok) else '-'}"
                )
                print(lines[-1], flush=True)
    print()
    print(f"{'fault':<15} {'peers':<9} {'policy':<20} {'rtt':>5} {'ok/n':<5} {'recov ms':>8} "
          f"{'gap ms':>8} {'limit':>7} {'':<9} {'ratio':>6} {'path':>6} {'after':>7} {'ratio':>6} "
          f"{'rst':>4} {'lost':>5}  dominant phase (median)")
    print("recov: fault -> media both ways (median of recovered trials); gap: largest media gap; "
          "path: the new/restored path usable (handover standby/overlap: 0, LTE was up before the "
          "break; cold/gap: the phone's LTE route event; blackhole: T); after: recov - path, and "
          "its ratio to the limit's part after the path (handover: the whole limit; blackhole: r); "
          "rst: median restarts per trial; lost: median units lost (both directions)")
    for line in lines:
        print(line)
    print("\nwhat each limit includes (r: RTT between the peers; the docstring gives the reasoning):")
    for name in args.faults.split(","):
        for line in LIMIT_INCLUDES.get(name, ()):
            print(f"  {name:<15} {line}")


if __name__ == "__main__":
    main()
