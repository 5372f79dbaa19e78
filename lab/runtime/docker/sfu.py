"""Janus (lab.sfu) with its process in the SFU host's container (image icelab/sfu).

lab.sfu renders the config, checks the address, probes the API and controls the process
(start until the API answers, stop, kill -9, restart); only where the process runs differs from
the netns runtime: the SFU host moves into a container of its own, and `janus` is exec'd into it
with the rendered config folder bind-mounted at the same path (read-only) and the run folder for
its log. The container has no Docker network: its only interface is the host's lab interface.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from lab.runtime.docker.attach import attach_container
from lab.runtime.docker.containers import LabContainer, remove_containers, run_container
from lab.runtime.docker.images import SFU_IMAGE
from lab.sfu.janus import Janus
from lab.sfu.spec import SfuSpec
from lab.sfu.topology import attach_janus, resolve_sfu, sfu_state_dir


class SfuContainers(Protocol):
    """The part of lab.runtime.docker.DockerRuntime that the SFU needs."""

    net: Any
    containers: dict[str, LabContainer]

    def popen(self, host: str, argv: list[str], **kwargs: Any) -> Any: ...


def container_janus(runtime: SfuContainers, spec: SfuSpec, out_dir: Path, file: str | Path | None = None) -> Janus:
    """The SFU host's container (started and wired in on first use), and Janus to be exec'd into it."""
    net = runtime.net
    host = resolve_sfu(net, spec, file).host
    assert host is not None
    if host not in runtime.containers:
        state = sfu_state_dir(net).resolve()
        state.mkdir(parents=True, exist_ok=True)
        out = Path(out_dir).resolve()
        out.mkdir(parents=True, exist_ok=True)
        container = run_container(net.name, host, SFU_IMAGE, [(out, True), (state, False)])
        try:
            attach_container(net, host, container)
        except BaseException:
            remove_containers([container.id])
            raise
        runtime.containers[host] = container

    def popen(argv: list[str], kwargs: dict[str, Any]) -> Any:
        # its own session is the docker client's business; signals reach Janus by its pid
        kwargs = {k: v for k, v in kwargs.items() if k != "start_new_session"}
        return runtime.popen(host, argv, **kwargs)

    return attach_janus(net, spec, out_dir, file, popen=popen)
