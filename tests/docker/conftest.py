"""Docker tests: a session fixture starts dockerd if none runs (and stops only what it started),
and builds the images (cached: the debootstrap base and the images stay on the machine).

On a fresh machine the first build takes a few minutes (debootstrap, wheels, pip install).
Each test module says `pytestmark = DOCKER` (the marker and this fixture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import naming

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 1500
# The first test also waits for the image build (minutes when cold: .ci/run builds them first).
DOCKER = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine"), pytest.mark.timeout(BUILD_TIMEOUT_S)]


def _script(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        pytest.skip("needs docker.io (scripts/setup-debian.sh)")
    user = str(os.getpid())
    started = _script("scripts/docker-daemon.sh", "start", user, timeout=120)
    if started.returncode != 0:
        pytest.fail(f"dockerd did not start:\n{started.stdout}{started.stderr}")
    try:
        built = _script("scripts/docker-images.sh", timeout=BUILD_TIMEOUT_S)
        if built.returncode != 0:
            pytest.fail(f"make images failed:\n{built.stdout}{built.stderr}")
        yield
    finally:
        from lab.runtime.docker.cleanup import remove_lab_containers

        remove_lab_containers(naming.scope())
        _script("scripts/docker-daemon.sh", "stop", user, timeout=120)

