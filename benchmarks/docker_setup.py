"""Docker runtime figures: set-up time of a trial with two peer containers and one relay
container (goal <= 3 s), beside the netns runtime; and the image build time, cached and cold.
Prints the figures; needs root and a Docker engine (scripts/docker-daemon.sh start).

    .venv/bin/python benchmarks/docker_setup.py [--runs 10] [--trials 5] [--build] [--cold]

The component series time each step on its own (sequentially); --trials runs real trials of
a 2 s blackhole experiment on both runtimes and prints the trials' own setup_ms (topology,
containers, relays and signaling ready; the agents import meanwhile), connect_ms, teardown_ms.

--build times `scripts/docker-images.sh` with everything cached; --cold first removes the
images, the debootstrap base and the prepared wheels (minutes; the images are rebuilt).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("ICELAB_SCOPE", f"bench{os.getpid()}")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker  # noqa: E402
from lab.net import Network, load_topology  # noqa: E402
from lab.net.cleanup import clean  # noqa: E402
from lab.runtime.docker import DockerRuntime  # noqa: E402
from lab.runtime.docker.cleanup import remove_lab_containers  # noqa: E402
from lab.runtime.docker.engine import client, require_engine  # noqa: E402
from lab.runtime.docker.images import LOCAL_BASE_IMAGE, PEER_IMAGE, RELAY_IMAGE, SFU_IMAGE  # noqa: E402
from lab.turn.topology import start_relays  # noqa: E402
from tests.experiment.short_blackhole import short_blackhole  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "topologies" / "two_peers.toml"
PEERS = ["alice", "bob"]
# What dominates an agent's start: importing aiortc, lab.rtc and the agent.
LOAD_AGENT = ["-c", "import lab.runtime.agent.session, lab.rtc; print('loaded', flush=True)"]
CONTAINER_PYTHON = "/opt/icelab/bin/python"


def _wait_loaded(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        assert process.stdout is not None
        line = process.stdout.readline()
        if b"loaded" not in line:
            raise RuntimeError(f"agent load failed: {line!r}")
        process.wait(30)


def docker_trial(index: int, out: Path) -> dict[str, float]:
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    net = Network.up(load_topology(TOPOLOGY), name=f"bd{index}")
    t["network_up"] = time.perf_counter() - t0
    runtime = None
    relays: list = []
    try:
        t1 = time.perf_counter()
        runtime = DockerRuntime.attach(net, out, peers=PEERS)
        t["containers"] = runtime.timings["containers_s"]
        t["attach"] = runtime.timings["attach_s"]
        t2 = time.perf_counter()
        relays = runtime.start_relays(out)
        t["relay_ready"] = time.perf_counter() - t2
        t3 = time.perf_counter()
        _wait_loaded([runtime.popen(h, [CONTAINER_PYTHON, *LOAD_AGENT], stdout=subprocess.PIPE) for h in PEERS])
        t["agents_loaded"] = time.perf_counter() - t3
        t["setup"] = time.perf_counter() - t0
        del t1
    finally:
        t4 = time.perf_counter()
        for relay in relays:
            relay.close()
        if runtime is not None:
            runtime.close()
        net.down()
        t["teardown"] = time.perf_counter() - t4
    return t


def netns_trial(index: int, out: Path) -> dict[str, float]:
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    net = Network.up(load_topology(TOPOLOGY), name=f"bn{index}")
    t["network_up"] = time.perf_counter() - t0
    relays: list = []
    try:
        t2 = time.perf_counter()
        relays = start_relays(net, out)
        t["relay_ready"] = time.perf_counter() - t2
        t3 = time.perf_counter()
        _wait_loaded([net.popen(h, [sys.executable, *LOAD_AGENT], stdout=subprocess.PIPE) for h in PEERS])
        t["agents_loaded"] = time.perf_counter() - t3
        t["setup"] = time.perf_counter() - t0
    finally:
        t4 = time.perf_counter()
        for relay in relays:
            relay.close()
        net.down()
        t["teardown"] = time.perf_counter() - t4
    return t


def report(title: str, samples: list[dict[str, float]]) -> None:
    print(f"\n{title} (median / max of {len(samples)}, seconds)")
    for key in samples[0]:
        values = [s[key] for s in samples]
        print(f"  {key:14s} {statistics.median(values):7.3f} / {max(values):7.3f}")


TRIAL_EXPERIMENT = short_blackhole("bench_docker_setup", seed=11, at_s=1.0)


def trials(count: int, out: Path) -> None:
    from rich.console import Console

    from lab.experiment.runner import run_experiment
    from lab.experiment.spec import load_experiment

    spec_file = out / "bench_docker_setup.toml"
    spec_file.write_text(TRIAL_EXPERIMENT)
    spec = load_experiment(spec_file)
    quiet = Console(file=open(os.devnull, "w"))
    print(f"\nreal trials (2 s blackhole, restart on disconnected), median / max of {count}, ms")
    for runtime in ("netns", "docker"):
        summary = run_experiment(spec, out / f"run-{runtime}", runtime=runtime, repetitions=count, console=quiet)
        frame = summary.trials
        cells = [f"{key} {frame[key].median():7.0f} / {frame[key].max():7.0f}"
                 for key in ("setup_ms", "connect_ms", "teardown_ms", "media_gap_ms")]
        print(f"  {runtime:7s} recovered {int(frame['recovered'].sum())}/{len(frame)}  " + "  ".join(cells))


def build(cold: bool) -> None:
    if cold:
        for image in (PEER_IMAGE, RELAY_IMAGE, SFU_IMAGE, LOCAL_BASE_IMAGE):
            with contextlib.suppress(docker.errors.DockerException):
                client().images.remove(image, force=True)
        client().images.prune(filters={"label": "org.icelab.image"})
        context = os.environ.get("ICELAB_DOCKER_CONTEXT", "/var/cache/icelab/docker-context")
        subprocess.run(["rm", "-rf", f"{context}/wheels"], check=True)
    t0 = time.perf_counter()
    done = subprocess.run(["bash", "scripts/docker-images.sh"], cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    print(f"\nimage build, {'cold (no base, no wheels, no layers)' if cold else 'cached'}: {took:.1f} s")
    print("  " + "\n  ".join((done.stdout + done.stderr).strip().splitlines()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--trials", type=int, default=0, help="real trials per runtime (0: none)")
    parser.add_argument("--build", action="store_true", help="also time a cached image build")
    parser.add_argument("--cold", action="store_true", help="time a cold image build (removes the images first)")
    args = parser.parse_args()
    require_engine()
    out = Path(f"/tmp/icelab-bench-docker-{os.getpid()}")
    out.mkdir(parents=True, exist_ok=True)
    try:
        if args.cold:
            build(cold=True)
        if args.build or args.cold:
            build(cold=False)
        docker_trial(999, out)  # warm-up: page cache, image layers
        report("docker runtime: 2 peer containers + 1 relay container",
               [docker_trial(i, out) for i in range(args.runs)])
        report("netns runtime, same topology", [netns_trial(i, out) for i in range(args.runs)])
        if args.trials:
            trials(args.trials, out)
    finally:
        remove_lab_containers(os.environ["ICELAB_SCOPE"])
        clean(os.environ["ICELAB_SCOPE"])


if __name__ == "__main__":
    main()
