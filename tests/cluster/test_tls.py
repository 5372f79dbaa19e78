"""A real TLS cluster on loopback: `icelab cluster certs`, `icelab cluster scheduler` and
`icelab worker` as processes. A client with the lab's certificate runs a real trial; a client
with another CA's certificate, or none, cannot submit anything; a worker refuses plain TCP off
loopback, a host without coturn, and a task from another icelab version or spec hash."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from lab.cluster.certs import security
from lab.cluster.ship import WorkerMismatch, pack
from lab.cluster.task import run_trial_task
from lab.experiment.spec import load_experiment
from tests.cluster.conftest import ICELAB, ROOT, icelab, lab_namespaces, needs_lab_tools

pytestmark = needs_lab_tools


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def process(*args: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen([*ICELAB, *args], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    base = tmp_path_factory.mktemp("tls")
    made = icelab("cluster", "certs", str(base / "certs"))
    assert made.returncode == 0, made.stderr
    address = f"tls://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    with process("cluster", "scheduler", "--certs", str(base / "certs"), "--host", "127.0.0.1", "--port", port,
                 log=base / "scheduler.log"), \
         process("worker", address, "--certs", str(base / "certs"), log=base / "worker.log") as worker:
        with Client(address, security=security(base / "certs", "client"), timeout=30) as client:
            deadline = time.monotonic() + 60
            while not client.scheduler_info()["workers"]:
                assert worker.poll() is None, (base / "worker.log").read_text()
                assert time.monotonic() < deadline, (base / "worker.log").read_text()
                time.sleep(0.5)
        yield address, base / "certs"


def test_certs_are_made_once(tmp_path: Path) -> None:
    done = icelab("cluster", "certs", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    names = {p.name for p in (tmp_path / "c").iterdir()}
    assert names == {"ca.pem", "ca-key.pem"} | {f"{r}{s}" for r in ("scheduler", "worker", "client")
                                                  for s in (".pem", "-key.pem")}
    assert oct((tmp_path / "c" / "client-key.pem").stat().st_mode & 0o777) == "0o600"
    again = icelab("cluster", "certs", str(tmp_path / "c"))
    assert again.returncode == 2 and "holds certificates already" in again.stderr


def test_a_client_with_the_lab_certificate_submits(tls_cluster: tuple[str, Path]) -> None:
    address, certs = tls_cluster
    with Client(address, security=security(certs, "client"), timeout=20) as client:
        assert client.submit(sum, [1, 2], resources={"icelab": 1}, pure=False).result(timeout=30) == 3


def test_a_client_without_the_lab_certificate_cannot_submit(tls_cluster: tuple[str, Path], tmp_path: Path) -> None:
    address, _ = tls_cluster
    assert icelab("cluster", "certs", str(tmp_path / "other")).returncode == 0
    with pytest.raises((OSError, TimeoutError)):  # the scheduler rejects a certificate of another CA
        Client(address, security=security(tmp_path / "other", "client"), timeout=5)
    with pytest.raises((OSError, TimeoutError)):  # or none at all
        Client(address.replace("tls://", "tcp://"), timeout=5)


def test_a_task_of_another_version_or_spec_is_refused(tls_cluster: tuple[str, Path], tmp_path: Path) -> None:
    address, certs = tls_cluster
    experiment = tmp_path / "e.toml"
    from tests.experiment.short_blackhole import short_blackhole

    experiment.write_text(short_blackhole("refused", seed=1))
    spec = load_experiment(experiment)
    task = pack(spec, "on-disconnected-rtt0-loss0-r0", 1, "netns")
    with Client(address, security=security(certs, "client"), timeout=20) as client:
        other = {**task, "version": "0.0.1-other"}
        with pytest.raises(WorkerMismatch, match="this worker runs icelab .* the client 0.0.1-other"):
            client.submit(run_trial_task, other, resources={"icelab": 1}, pure=False).result(timeout=60)
        drifted = {**task, "spec_hash": "0123456789abcdef"}
        with pytest.raises(WorkerMismatch, match="spec hash .* 0123456789abcdef on the client"):
            client.submit(run_trial_task, drifted, resources={"icelab": 1}, pure=False).result(timeout=60)


def test_a_real_trial_over_tls(tls_cluster: tuple[str, Path], experiment: Path, tmp_path: Path) -> None:
    address, certs = tls_cluster
    out = tmp_path / "run"
    done = icelab("run", str(experiment), "--cluster", address, "--certs", str(certs), "--trials", "1",
                  "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 trials run, 0 resumed, 1/1 recovered" in done.stdout
    trials = pd.read_parquet(out / "trials.parquet")
    assert trials["worker"][0].startswith(socket.gethostname().split(".")[0])
    assert lab_namespaces() == []


def test_worker_refuses_plain_tcp_and_hosts_that_cannot_run_trials(tmp_path: Path) -> None:
    off = icelab("worker", "tcp://192.0.2.10:8786", "--insecure")
    assert off.returncode == 2 and "loopback" in off.stderr
    plain = icelab("worker", "tcp://127.0.0.1:8786")
    assert plain.returncode == 2 and "--insecure" in plain.stderr
    # a host without coturn: PATH holds every other tool the lab uses, but not turnserver
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("nft", "conntrack", "ip", "tc", "tcpdump", "turnutils_natdiscovery"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    no_coturn = subprocess.run([sys.executable, "-m", "lab", "worker", "tcp://127.0.0.1:8786", "--insecure"],
                               capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert no_coturn.returncode == 2, no_coturn.stderr
    assert "this host cannot run trials" in no_coturn.stderr and "turnserver" in no_coturn.stderr
