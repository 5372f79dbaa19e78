"""The Docker engine, through the Docker SDK for Python (`docker` on PyPI).

One exception: a program exec'd into a container with its stdio as pipes (the agents' control
channel) is the `docker exec -i` client as a subprocess (lab.runtime.docker.process), because
that is the interface that gives a Popen whose pipes are the program's.
"""

from __future__ import annotations

import shutil
import threading
from typing import TYPE_CHECKING

from lab.errors import LabError

if TYPE_CHECKING:
    import docker as docker_sdk

DOCKER_CLI = "docker"
CALL_TIMEOUT_S = 120

_lock = threading.Lock()
_client: docker_sdk.DockerClient | None = None


class DockerError(LabError):
    """The Docker engine refused or failed a request (the message carries its answer)."""


def client() -> docker_sdk.DockerClient:
    """The engine's API client (one per process, thread-safe; connects on first use)."""
    global _client
    import docker as docker_sdk

    with _lock:
        if _client is None:
            try:
                _client = docker_sdk.from_env(timeout=CALL_TIMEOUT_S)
            except docker_sdk.errors.DockerException as error:
                raise DockerError(f"no Docker engine answers ({error}): start one with "
                                  "scripts/docker-daemon.sh start") from None
        return _client


def cli_path() -> str:
    path = shutil.which(DOCKER_CLI)
    if path is None:
        raise DockerError("the docker client is missing (apt-get install docker.io)")
    return path


def available() -> bool:
    """Whether a Docker engine answers (scripts/docker-daemon.sh start)."""
    import docker as docker_sdk

    try:
        return bool(client().ping())
    except (DockerError, docker_sdk.errors.DockerException, OSError):
        return False


def require_engine() -> None:
    if not available():
        raise DockerError("no Docker engine answers: start one with scripts/docker-daemon.sh start")


def image_label(image: str, label: str) -> str | None:
    """A label of a local image ("" when unset); None when the image is missing."""
    import docker as docker_sdk

    try:
        labels = client().images.get(image).labels or {}
    except docker_sdk.errors.ImageNotFound:
        return None
    return str(labels.get(label, ""))
