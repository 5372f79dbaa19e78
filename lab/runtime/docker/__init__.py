"""The Docker runtime: peers and relays in containers on the namespaced lab topology."""

from __future__ import annotations

from typing import Any

__all__ = ["DockerRuntime"]


def __getattr__(name: str) -> Any:  # lazy: `python -m lab.runtime.docker.images` imports no more
    if name == "DockerRuntime":
        from lab.runtime.docker.runtime import DockerRuntime

        return DockerRuntime
    raise AttributeError(name)
