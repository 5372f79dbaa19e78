"""The Docker engine, through its command-line client (the one interface that also carries
`docker exec -i` stdio pipes, which the agents' control channel needs)."""

from __future__ import annotations

import shutil
import subprocess

from lab.errors import LabError

DOCKER = "docker"
CALL_TIMEOUT_S = 60.0


class DockerError(LabError):
    """The Docker engine refused or failed a request (the message carries its answer)."""


def client() -> str:
    path = shutil.which(DOCKER)
    if path is None:
        raise DockerError("the docker client is missing (apt-get install docker.io)")
    return path


def docker(*args: str, timeout: float = CALL_TIMEOUT_S, check: bool = True) -> str:
    """Run one docker command; its stdout, stripped."""
    try:
        done = subprocess.run([client(), *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DockerError(f"docker {args[0]} did not answer within {timeout:g} s") from None
    if check and done.returncode != 0:
        raise DockerError(f"docker {' '.join(args[:2])}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def available(timeout: float = 10.0) -> bool:
    """Whether a Docker engine answers (scripts/docker-daemon.sh start)."""
    if shutil.which(DOCKER) is None:
        return False
    try:
        return bool(docker("version", "--format", "{{.Server.Version}}", timeout=timeout, check=False))
    except DockerError:
        return False


def require_engine() -> None:
    if not available():
        raise DockerError("no Docker engine answers: start one with scripts/docker-daemon.sh start")


def image_label(image: str, label: str) -> str | None:
    """A label of a local image ("" when unset); None when the image is missing."""
    done = subprocess.run([client(), "image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', image],
                          capture_output=True, text=True, timeout=CALL_TIMEOUT_S)
    return done.stdout.strip() if done.returncode == 0 else None
