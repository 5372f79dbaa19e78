"""Janus on the Docker runtime: the SFU host's Janus runs in a container of image icelab/sfu,
wired into the topology like the peers and the relay (no Docker network), with the config lab.sfu
rendered on the host. Real parts throughout: aiortc agents, coturn and Janus, each in its
container, behind the topology's kernel NATs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from lab import naming
from lab.runtime.docker.containers import lab_containers
from lab.runtime.docker.images import SFU_IMAGE
from lab.sfu import SfuSpec
from lab.sfu.janus import janus_pids
from tests.docker.conftest import DOCKER
from tests.sfu.conftest import REPO, TOPOLOGY

pytestmark = DOCKER

HANDOVER = {"type": "handover", "host": "phone", "from_iface": "wlan0", "to_iface": "wwan0", "variant": "standby",
            "at_s": 2}


def _experiment(path: Path, name: str, fault: dict[str, Any], policy: str, recover_s: int) -> Path:
    lines = [f'name = "{name}"', f'topology = "{TOPOLOGY}"', "seed = 17", f'policies = ["{policy}"]',
             "[peers]", 'offerer = "phone"', 'answerer = "peer"',
             "[media]", 'direction = "offerer-to-answerer"',
             "[ice]", "consent_interval_s = 1.0", "disconnected_after_s = 2.0", "failed_after_s = 6.0",
             "[sfu]", "[fault]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in fault.items()]
    lines += ["[timeouts]", "connect_s = 30", f"recover_s = {recover_s}", "trial_s = 90"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_docker(spec: Path, out: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    done = subprocess.run([sys.executable, "-m", "lab", "run", str(spec), "--runtime", "docker", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ), cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    trials = pd.read_parquet(out / "trials.parquet")
    assert len(trials) == 1
    return trials.iloc[0].to_dict(), pd.read_parquet(out / "events.parquet")


def _nothing_left() -> None:
    assert lab_containers(naming.scope()) == []
    from lab.net import netns

    scoped = [n for n in netns.list_names() if naming.is_lab_netns(n, naming.scope())]
    assert scoped == [] and janus_pids(scoped) == []


def test_publisher_restart_through_janus_in_a_container(tmp_path: Path) -> None:
    """The call through Janus (in its container) completes; the phone's handover breaks the
    publisher leg, its restart recovers media at the subscriber; nothing is left afterwards."""
    spec = _experiment(tmp_path / "sfu_docker.toml", "sfu_docker", HANDOVER, "on-network-change", 25)
    row, events = _run_docker(spec, tmp_path / "run")
    assert row["status"] == "ok", row.get("failure_reason")
    assert row["runtime"] == "docker" and row["path"] == "sfu"
    assert row["recovered"] and row["restart_can_recover"], row
    assert set(events[events["kind"] == "restart"]["peer"]) == {"offerer"}
    kinds = events.groupby("peer")["kind"].apply(set)
    assert "media_rx" in kinds["answerer"] and "media_rx" not in kinds["offerer"]
    assert row["media_gap_ms"] > 0 and row["sfu_start_ms"] > 0

    trial_dir = next((tmp_path / "run" / "trials").iterdir())
    containers = json.loads((trial_dir / "containers.json").read_text())
    assert containers["sfu"]["image"] == SFU_IMAGE
    assert {"phone", "peer", "relay"} <= set(containers)
    log = (trial_dir / "sfu-sfu.log").read_text()
    assert "starting Janus sfu" in log and "Websockets server started (port 8188)" in log
    _nothing_left()


def test_janus_kill_in_a_container_is_not_recoverable(tmp_path: Path) -> None:
    """kill -9 reaches Janus inside its container; restarted there as a new process, it no longer
    knows the legs' sessions: the row says an ICE restart cannot recover, and why."""
    fault = {"type": "janus_kill", "at_s": 2, "restart_after_s": 1.0}
    spec = _experiment(tmp_path / "sfu_docker_kill.toml", "sfu_docker_kill", fault, "on-disconnected", 12)
    row, events = _run_docker(spec, tmp_path / "run")
    assert row["status"] == "ok", row.get("failure_reason")
    assert not row["recovered"]
    assert row["restart_can_recover"] is False or row["restart_can_recover"] == 0
    reason = str(row["unrecoverable_reason"])
    assert "kill -9" in reason and "session" in reason
    gone = events[(events["kind"] == "sfu_session") & (events["state"] == "gone")]
    assert len(gone) or (events["kind"] == "sfu_restart_refused").any()
    trial_dir = next((tmp_path / "run" / "trials").iterdir())
    assert (trial_dir / "sfu-sfu.log").read_text().count("starting Janus sfu") == 2  # killed, then restarted
    _nothing_left()


def test_janus_controls_in_a_container_and_clean_after_a_crash(tmp_path: Path) -> None:
    """start until the API answers, kill -9, restart, stop, all inside the SFU host's container;
    then an orchestrator that dies with Janus running leaves a container `icelab clean` removes."""
    from lab.experiment.testbed import Lab

    lab = Lab(TOPOLOGY, name="sfu", runtime="docker", out_dir=tmp_path, peers=[], relays=False)
    lab.up()
    try:
        janus = lab.attach_sfu(SfuSpec(turn=False))
        assert lab.runtime is not None
        container = lab.runtime.containers["sfu"]  # type: ignore[attr-defined]
        assert container.image == SFU_IMAGE
        assert janus.start() > 0 and janus.running
        # hermetic: the container's only interfaces are loopback and the host's lab interface, and
        # Janus's API listens on the lab address only
        links = lab.net.run("sfu", ["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
        assert sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines()) == sorted(
            ["lo", lab.net.iface("sfu").name])
        listening = lab.net.run("sfu", ["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout.split()
        assert f"{lab.net.address('sfu')}:8188" in listening and "*:8188" not in listening
        assert "0.0.0.0:8188" not in listening
        info = janus.info()
        assert info is not None and info["version_string"].startswith("1.")
        in_container = [lab.net.netns("sfu")]  # the container's namespace carries the host's name
        first = janus_pids(in_container)
        assert len(first) == 1  # Janus itself (janus.pid is the `docker exec` client's)
        janus.kill()
        assert not janus.running and janus.info(timeout=0.5) is None
        assert janus_pids(in_container) == []
        assert janus.restart() > 0 and janus.info() is not None
        assert len(janus_pids(in_container)) == 1 and janus_pids(in_container) != first
        janus.stop()
        assert not janus.running
        janus.start()
        # the orchestrator "crashes" here: Janus, its container and the namespaces stay behind
        assert container.id in lab_containers(naming.scope())
    finally:
        done = subprocess.run([sys.executable, "-m", "lab", "clean"], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ), cwd=REPO)
        assert done.returncode == 0, done.stdout + done.stderr
    _nothing_left()
