"""Lab containers: started with no Docker network, labelled, named after the host they hold.

A container stands for one topology host. Its main process only sleeps (under docker's init);
what runs in it (agent, turnserver) is exec'd into it by the runtime, and its network namespace
becomes the host's lab namespace (lab.runtime.docker.attach).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from lab import naming
from lab.runtime.docker.engine import DockerError, docker

TOPOLOGY_LABEL = "org.icelab.topology"
HOST_LABEL = "org.icelab.host"
SHM_SIZE = "512m"  # a tmpfs: only what is used costs memory


@dataclass(frozen=True)
class LabContainer:
    name: str
    id: str
    pid: int  # the container's init, seen from the host
    host: str
    image: str

    @property
    def netns_path(self) -> str:
        return f"/proc/{self.pid}/ns/net"


def container_name(topology: str, host: str) -> str:
    """The same name as the host's lab namespace (lab.naming), so either finds the other."""
    return naming.netns_name(topology, host)


def run_container(topology: str, host: str, image: str, mounts: list[tuple[Path, bool]]) -> LabContainer:
    """Start a container for `host`: no network, lab label, the given paths bind-mounted as is."""
    name = container_name(topology, host)
    # SYS_NICE: the agent raises its own priority, as it does on the netns runtime.
    # /dev/shm: Chromium's renderers share memory there; Docker's default 64 MiB is too small.
    args = ["run", "--detach", "--rm", "--init", "--network", "none", "--cap-add", "SYS_NICE",
            "--shm-size", SHM_SIZE,
            "--name", name, "--hostname", host[:63],
            "--label", f"{naming.DOCKER_LABEL}={naming.scope()}",
            "--label", f"{TOPOLOGY_LABEL}={topology}", "--label", f"{HOST_LABEL}={host}"]
    for path, writable in mounts:
        args += ["--mount", f"type=bind,source={path},target={path}" + ("" if writable else ",readonly")]
    container_id = docker(*args, image, "sleep", "infinity")
    try:
        state = json.loads(docker("inspect", "--format", "{{json .State}}", container_id))
        if not state.get("Running") or not state.get("Pid"):
            raise DockerError(f"container {name} is not running: {state.get('Error') or state.get('Status')}")
        return LabContainer(name=name, id=container_id, pid=int(state["Pid"]), host=host, image=image)
    except BaseException:
        remove_containers([container_id])
        raise


def run_containers(topology: str, wanted: dict[str, str], mounts: dict[str, list[tuple[Path, bool]]]
                   ) -> dict[str, LabContainer]:
    """Start one container per host (host -> image) at once; all or none."""
    started: dict[str, LabContainer] = {}
    errors: list[BaseException] = []
    with concurrent.futures.ThreadPoolExecutor(max(1, len(wanted)), thread_name_prefix="docker-run") as pool:
        futures = {pool.submit(run_container, topology, host, image, mounts.get(host, [])): host
                   for host, image in wanted.items()}
        for future in concurrent.futures.as_completed(futures):
            try:
                started[futures[future]] = future.result()
            except BaseException as error:  # collect, then undo the others
                errors.append(error)
    if errors:
        remove_containers([c.id for c in started.values()])
        raise errors[0]
    return started


def remove_containers(ids: list[str]) -> None:
    if ids:
        with contextlib.suppress(DockerError):
            docker("rm", "--force", "--volumes", *ids, timeout=120)


def lab_containers(scope: str | None) -> list[str]:
    """ids of the lab's containers: of one scope, or (None) of every scope."""
    label = naming.DOCKER_LABEL if scope is None else f"{naming.DOCKER_LABEL}={scope}"
    out = docker("ps", "--all", "--quiet", "--filter", f"label={label}")
    return out.split()
