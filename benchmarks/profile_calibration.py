"""How well the calibrated stand-ins (lab.rtc profiles `chrome`, `firefox`) mimic the browsers.

    .venv/bin/python benchmarks/profile_calibration.py [--trials 5] [--engines chrome firefox]
        [--faults handover transient_blackhole binding_expiry relay_kill handover_overlap]
        [--policy on-disconnected] [--sides real stand-in] [--out DIR]

For each shipped fault (experiments/<fault>.toml: its topology, fault, [ice] and timeouts) and
each engine, two peer pairs run the same trials (`--trials` each, the experiment's first RTT,
one policy, default on-disconnected: the one whose gap the engine's own detection decides):
    real       chromium-chromium / firefox-firefox
    stand-in   aiortc~chrome-aiortc~chrome / aiortc~firefox-aiortc~firefox
Prints per fault and engine: recovered trials, the median media gap of each pair and their ratio
(stand-in / real; the goal is 0.85-1.15), and the median 'detected' time of each.
Asserts nothing; the run folders stay in --out for the report (`icelab report DIR/*/*`), one per
fault and side (DIR/<fault>/real, DIR/<fault>/stand-in); running again with the same --out
resumes them (completed trials are kept). After a profile change, `--sides stand-in` with a new
--out reruns only the stand-ins, and `--real-from OLD_DIR` compares them with the real trials
already run there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ICELAB_SCOPE", f"bench{os.getpid()}")

import pandas as pd  # noqa: E402

from lab.experiment.runner import run_experiment  # noqa: E402
from lab.experiment.spec import PolicySpec, load_experiment  # noqa: E402

BROWSER = {"chrome": "chromium", "firefox": "firefox"}
FAULTS = ["handover", "transient_blackhole", "binding_expiry", "relay_kill", "handover_overlap"]


SIDES = ("real", "stand-in")


def pair_of(engine: str, side: str) -> str:
    kind = BROWSER[engine] if side == "real" else f"aiortc~{engine}"
    return f"{kind}-{kind}"


def calibration_spec(fault: str, engines: list[str], policy: str, trials: int, side: str) -> object:
    spec = load_experiment(ROOT / "experiments" / f"{fault}.toml")
    pairs = [pair_of(engine, side) for engine in engines]
    matrix = spec.matrix.model_copy(update={"rtt_ms": spec.matrix.rtt_ms[:1], "loss_pct": spec.matrix.loss_pct[:1],
                                            "peer_pairs": pairs})
    timeouts = spec.timeouts.model_copy(update={"connect_s": max(spec.timeouts.connect_s, 60.0),
                                                "recover_s": max(spec.timeouts.recover_s, 45.0),
                                                "trial_s": max(spec.timeouts.trial_s, 150.0)})
    return spec.model_copy(update={"name": f"calibration_{fault}_{side}", "repetitions": trials, "matrix": matrix,
                                   "timeouts": timeouts, "policies": [PolicySpec.model_validate(policy)]})


def median(values: pd.Series) -> float:
    values = values.dropna()
    return float(statistics.median(values)) if len(values) else float("nan")


def whole(value: float) -> int | None:
    return None if value != value else round(value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--engines", nargs="+", default=["chrome", "firefox"], choices=list(BROWSER))
    parser.add_argument("--faults", nargs="+", default=FAULTS, choices=FAULTS)
    parser.add_argument("--policy", default="on-disconnected")
    parser.add_argument("--sides", nargs="+", default=list(SIDES), choices=SIDES)
    parser.add_argument("--real-from", type=Path, default=None,
                        help="a calibration folder whose real trials to compare with (with --sides stand-in)")
    parser.add_argument("--out", type=Path, default=Path("runs") / f"calibration-{time.strftime('%Y%m%d-%H%M%S')}")
    args = parser.parse_args()
    rows = []
    for fault in args.faults:
        for side in args.sides:
            spec = calibration_spec(fault, args.engines, args.policy, args.trials, side)
            folder = args.out / fault / side
            # an existing folder is resumed: its completed trials are kept, only the rest run
            run_experiment(spec, folder, resume=folder.is_dir())  # type: ignore[arg-type]
        sources = {"real": args.real_from or args.out, "stand-in": args.out}
        frames = [pd.read_parquet(folder / "trials.parquet")
                  for folder in (root / fault / side for side, root in sources.items())
                  if (folder / "trials.parquet").is_file()]
        if not frames:
            continue
        trials = pd.concat(frames, ignore_index=True)
        for engine in args.engines:
            real = trials[trials["peer_kind"] == BROWSER[engine]]
            stand_in = trials[trials["peer_kind"] == f"aiortc~{engine}"]
            gap_real = median(real.loc[real["recovered"].astype(bool), "media_gap_ms"])
            gap_stand = median(stand_in.loc[stand_in["recovered"].astype(bool), "media_gap_ms"])
            rows.append({
                "fault": fault, "engine": engine,
                "real recovered": f"{int(real['recovered'].sum())}/{len(real)}",
                "stand-in recovered": f"{int(stand_in['recovered'].sum())}/{len(stand_in)}",
                "real gap ms": whole(gap_real), "stand-in gap ms": whole(gap_stand),
                "ratio": round(gap_stand / gap_real, 2) if gap_real == gap_real and gap_stand == gap_stand else None,
                "real detected ms": whole(median(real["detection_ms"])),
                "stand-in detected ms": whole(median(stand_in["detection_ms"])),
            })
    table = pd.DataFrame(rows)
    print(f"\nprofile calibration: {args.trials} trials per pair and fault, policy {args.policy} "
          "(ratio = stand-in / real median media gap; goal 0.85-1.15)")
    print(table.to_string(index=False))
    (args.out / "calibration.csv").parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "calibration.csv", index=False)


if __name__ == "__main__":
    main()
