"""Print configured vs measured link shaping, for each delay mode this machine offers.

On a pair of lab namespaces (lab.net.shaping.testbed) joined by one veth, UDP probes measure:
  rtt     25 ms each way        -> median RTT (goal 50 +- 3 ms)
  loss    5 % one way           -> loss over 2000 datagrams at the receiver (goal 4-6 %)
  jitter  30 +- 10 ms one way   -> spread of the one-way delay (uniform: sd 5.8 ms), reordering
  rate    1000 kbit/s, 2 Mbit/s offered -> delivered rate
  apply   apply_shaping() wall time: first apply, and a runtime change
and the userspace shaper's CPU time per packet (nfqueue mode).
Modes: netem (when the kernel has it) and nfqueue (always); each runs in its own process,
forced with ICELAB_DELAY_BACKEND.

Run: .venv/bin/python benchmarks/shaping_accuracy.py [--json]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lab.naming import state_dir
from lab.net.shaping import LinkShaping, apply_shaping, clear_shaping, delay_backend
from lab.net.shaping.backend import OVERRIDE_ENV, netem_available
from lab.net.shaping.probe import ProbeResult, run_probe
from lab.net.shaping.testbed import LinkPair, link_pair, shaper_pids


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cpu_s(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds of these processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user += int(fields[11]) / ticks
        system += int(fields[12]) / ticks
    return user, system


def _timed_apply(netns: str, ifname: str, shaping: LinkShaping) -> float:
    start = time.perf_counter()
    apply_shaping(netns, ifname, shaping)
    return (time.perf_counter() - start) * 1000


def measure(pair: LinkPair) -> dict[str, object]:
    out: dict[str, object] = {"mode": delay_backend()}
    probe = lambda **kw: run_probe(pair.a, pair.b, pair.b_addr, **kw)  # noqa: E731

    base = probe(count=200, interval_s=0.005)
    out["baseline_rtt_ms"] = ProbeResult.median(base.rtt_ms)

    first = _timed_apply(pair.a, pair.a_if, LinkShaping(delay_ms=25))
    apply_shaping(pair.b, pair.b_if, LinkShaping(delay_ms=25))
    rtt = probe(count=500, interval_s=0.01)
    out["rtt"] = {
        "configured_ms": 50.0,
        "median_ms": ProbeResult.median(rtt.rtt_ms),
        "p5_ms": _pct(rtt.rtt_ms, 0.05),
        "p95_ms": _pct(rtt.rtt_ms, 0.95),
        "forward_median_ms": ProbeResult.median(rtt.forward_ms),
        "received": len(rtt.rtt_ms),
        "sent": rtt.sent,
    }
    changes = [_timed_apply(pair.a, pair.a_if, LinkShaping(delay_ms=25 + i % 2)) for i in range(20)]
    out["apply_ms"] = {"first": first, "change_median": statistics.median(changes)}
    clear_shaping(pair.b, pair.b_if)

    apply_shaping(pair.a, pair.a_if, LinkShaping(loss_pct=5))
    loss = probe(count=2000, interval_s=0.002)
    out["loss"] = {"configured_pct": 5.0, "measured_pct": loss.forward_loss_pct, "sent": loss.sent}

    apply_shaping(pair.a, pair.a_if, LinkShaping(delay_ms=30, jitter_ms=10))
    cpu_before = _cpu_s(shaper_pids())
    jit = probe(count=1000, interval_s=0.005)
    cpu_after = _cpu_s(shaper_pids())
    fwd = jit.forward_ms
    out["jitter"] = {
        "configured": "30 +- 10 ms uniform",
        "min_ms": min(fwd), "p5_ms": _pct(fwd, 0.05), "median_ms": ProbeResult.median(fwd),
        "p95_ms": _pct(fwd, 0.95), "max_ms": max(fwd), "sd_ms": statistics.stdev(fwd),
        "reordered": jit.reordered, "received": len(fwd),
    }
    if out["mode"] == "nfqueue":
        # one packet per probe passes the shaper; the kernel part includes the packet's onward
        # path, which runs in the shaper's verdict call
        packets = max(1, len(fwd))
        out["shaper_cpu_us_per_packet"] = {
            "user": (cpu_after[0] - cpu_before[0]) / packets * 1e6,
            "kernel": (cpu_after[1] - cpu_before[1]) / packets * 1e6,
        }

    apply_shaping(pair.a, pair.a_if, LinkShaping(rate_kbit=1000))
    seconds = 3.0
    rate = probe(count=int(seconds / 0.004), interval_s=0.004, size=1000)
    delivered = len(rate.forward_ms) * 1000 * 8 / seconds / 1000
    out["rate"] = {"configured_kbit": 1000, "offered_kbit": 2000, "delivered_kbit": delivered}
    clear_shaping(pair.a, pair.a_if)
    return out


def run_mode(mode: str) -> dict[str, object]:
    env = dict(os.environ, **{OVERRIDE_ENV: mode})
    result = subprocess.run(
        [sys.executable, __file__, "--mode-child"], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return {"mode": mode, "error": result.stderr.strip().splitlines()[-1:]}
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def print_table(results: list[dict[str, object]]) -> None:
    table = Table(title="link shaping: configured vs measured")
    table.add_column("mode")
    table.add_column("what")
    table.add_column("configured")
    table.add_column("measured")
    table.add_column("goal")
    for r in results:
        mode = str(r["mode"])
        if "error" in r:
            table.add_row(mode, "error", "", str(r["error"]), "")
            continue
        rtt, loss, jit, rate, apply = r["rtt"], r["loss"], r["jitter"], r["rate"], r["apply_ms"]  # type: ignore[misc]
        ok = lambda c: "[green]ok[/]" if c else "[red]MISSED[/]"  # noqa: E731
        table.add_row(mode, "RTT median", "2 x 25 ms",
                      f"{rtt['median_ms']:.2f} ms (p5 {rtt['p5_ms']:.2f}, p95 {rtt['p95_ms']:.2f}; "
                      f"no shaping {r['baseline_rtt_ms']:.2f})",
                      f"50 +- 3 ms {ok(abs(rtt['median_ms'] - 50) <= 3)}")
        table.add_row(mode, "one-way delay", "25 ms", f"median {rtt['forward_median_ms']:.2f} ms", "")
        table.add_row(mode, "loss", "5 %", f"{loss['measured_pct']:.2f} % of {loss['sent']}",
                      f"4-6 % {ok(4 <= loss['measured_pct'] <= 6)}")
        table.add_row(mode, "jitter", "30 +- 10 ms",
                      f"min {jit['min_ms']:.1f} p5 {jit['p5_ms']:.1f} med {jit['median_ms']:.1f} "
                      f"p95 {jit['p95_ms']:.1f} max {jit['max_ms']:.1f}, sd {jit['sd_ms']:.2f} ms, "
                      f"{jit['reordered']} reordered", "sd 5.77 (uniform)")
        table.add_row(mode, "rate", "1000 kbit/s", f"{rate['delivered_kbit']:.0f} kbit/s (2000 offered)", "")
        table.add_row(mode, "apply_shaping()", "", f"first {apply['first']:.1f} ms, change {apply['change_median']:.1f} ms", "")
        if "shaper_cpu_us_per_packet" in r:
            cpu = r["shaper_cpu_us_per_packet"]
            table.add_row(mode, "shaper CPU", "200 packets/s",
                          f"{cpu['user']:.0f} us user + {cpu['kernel']:.0f} us kernel per packet", "")  # type: ignore[index]
    Console(width=160).print(table)


def main() -> None:
    # its own naming scope, so the benchmark's namespaces and state never meet anyone else's
    os.environ.setdefault("ICELAB_SCOPE", f"shpbench{os.getpid()}")
    if "--mode-child" in sys.argv:
        with link_pair("bench") as pair:
            print(json.dumps(measure(pair)))
        return
    modes = (["netem"] if netem_available() else []) + ["nfqueue"]
    try:
        results = [run_mode(mode) for mode in modes]
    finally:
        shutil.rmtree(state_dir(), ignore_errors=True)
    if "--json" in sys.argv:
        print(json.dumps(results, indent=2))
    else:
        print(f"modes available here: {', '.join(modes)}" + ("" if "netem" in modes else " (no netem in this kernel)"))
        print_table(results)


if __name__ == "__main__":
    main()
