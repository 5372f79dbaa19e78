"""Where a trial's peer agents run: `netns` (processes in namespaces); `docker` (containers,
provided by lab.runtime.docker.DockerRuntime once it exists).

A runtime is made per trial from the trial's running lab.net Network:
`make_runtime(name, network).start_agent(config, log_path, on_event) -> AgentProcess`.
"""

from __future__ import annotations

import importlib
from typing import Any

from lab.errors import LabError
from lab.runtime.base import AgentProcess, Runtime

RUNTIMES = ("netns", "docker")
_CLASSES = {"netns": ("lab.runtime.netns", "NetnsRuntime"), "docker": ("lab.runtime.docker", "DockerRuntime")}


def runtime_class(name: str) -> Any:
    if name not in _CLASSES:
        raise LabError(f"unknown runtime {name!r} (one of {', '.join(RUNTIMES)})")
    module, cls = _CLASSES[name]
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        raise LabError(f"the {name} runtime is not available in this version (use --runtime netns)") from None


def make_runtime(name: str, network: Any) -> Runtime:
    return runtime_class(name)(network)  # type: ignore[no-any-return]


__all__ = ["RUNTIMES", "AgentProcess", "Runtime", "make_runtime", "runtime_class"]
