"""Lab containers: started with no Docker network, labelled, named after the host they hold.

A container stands for one topology host. Its main process only sleeps (under docker's init);
what runs in it (agent, turnserver) is exec'd into it by the runtime, and its network namespace
becomes the host's lab namespace (lab.runtime.docker.attach).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from dataclasses import dataclass
from pathlib import Path

from lab import naming
from lab.runtime.docker.engine import DockerError, client

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
    import docker as docker_sdk
    from docker.types import Mount

    name = container_name(topology, host)
    try:
        # SYS_NICE: the agent raises its own priority, as it does on the netns runtime.
        # /dev/shm: Chromium's renderers share memory there; Docker's default 64 MiB is too small.
        container = client().containers.run(
            image, ["sleep", "infinity"], detach=True, auto_remove=True, init=True, network_mode="none",
            cap_add=["SYS_NICE"], shm_size=SHM_SIZE, name=name, hostname=host[:63],
            labels={naming.DOCKER_LABEL: naming.scope(), TOPOLOGY_LABEL: topology, HOST_LABEL: host},
            mounts=[Mount(str(path), str(path), type="bind", read_only=not writable) for path, writable in mounts])
    except docker_sdk.errors.DockerException as error:
        raise DockerError(f"docker run {image} for {host}: {error}") from None
    try:
        container.reload()
        state = container.attrs.get("State", {})
        if not state.get("Running") or not state.get("Pid"):
            raise DockerError(f"container {name} is not running: {state.get('Error') or state.get('Status')}")
        return LabContainer(name=name, id=str(container.id), pid=int(state["Pid"]), host=host, image=image)
    except BaseException:
        remove_containers([str(container.id)])
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
    """Remove the containers (and their anonymous volumes); those already gone are skipped."""
    import docker as docker_sdk

    for container_id in ids:
        with contextlib.suppress(docker_sdk.errors.NotFound, docker_sdk.errors.APIError, DockerError):
            client().containers.get(container_id).remove(force=True, v=True)


def lab_containers(scope: str | None) -> list[str]:
    """ids of the lab's containers: of one scope and the scopes nested in it, or (None) of every scope."""
    # the list call's own rows (id and labels): the SDK's containers.list() inspects each one
    # after listing, and fails on one removed in between (another run's clean-up)
    rows = client().api.containers(all=True, filters={"label": naming.DOCKER_LABEL})
    return [str(row["Id"]) for row in rows
            if scope is None or naming.in_scope((row.get("Labels") or {}).get(naming.DOCKER_LABEL, ""), scope)]
