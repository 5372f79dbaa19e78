"""Ctrl-C on `icelab run --runtime docker` (real containers, aiortc agents, coturn): the run
ends with 130, and no container, namespace or process of its scope is left."""

from __future__ import annotations

import signal
from pathlib import Path

from lab.runtime.docker.containers import lab_containers
from tests.cli.interrupting import lingering, namespaces, start
from tests.docker.conftest import DOCKER
from tests.experiment.short_blackhole import short_blackhole

pytestmark = DOCKER


def test_ctrl_c_on_the_docker_runtime_leaves_no_container(tmp_path: Path) -> None:
    exp, out = tmp_path / "docker.toml", tmp_path / "run"
    exp.write_text(short_blackhole("docker_interrupt", seed=11, repetitions=1, at_s=4, settle_s=1))
    interrupted = start(tmp_path, "dsigint", str(exp), "--runtime", "docker", "--out", str(out))
    interrupted.wait_for("a container of the run", lambda: lab_containers(interrupted.scope) != [])

    code = interrupted.signal(signal.SIGINT, group=True)

    assert code == 130, interrupted.log()[-3000:]
    assert lab_containers(interrupted.scope) == []
    assert namespaces(interrupted.scope) == [] and lingering(interrupted.scope) == []
