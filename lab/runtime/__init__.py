"""Where a trial's peer agents and relays run: `netns` (processes in namespaces), `docker`
(containers wired into the namespaced topology, lab.runtime.docker).

    kind = runtime_class("docker"); kind.preflight()                # once per run
    runtime = kind.prepare(net, trial_dir, peers=["alice", "bob"])  # per trial, after Network.up
    relays = runtime.start_relays(trial_dir)
    agent = runtime.start_agent(config, log_path, on_event)         # -> AgentProcess
    runtime.close()                                                 # before net.down()

Both runtimes start every peer kind (aiortc, chromium, firefox) through lab.runtime.kinds;
`kind.peer_kind_missing(name)` says whether a kind can run where the runtime puts peers.
"""

from __future__ import annotations

import importlib

from lab.errors import LabError
from lab.runtime.base import AgentProcess, Runtime, RuntimeKind

RUNTIMES = ("netns", "docker")
_CLASSES = {"netns": ("lab.runtime.netns", "NetnsRuntime"), "docker": ("lab.runtime.docker", "DockerRuntime")}


def runtime_class(name: str) -> RuntimeKind:
    if name not in _CLASSES:
        raise LabError(f"unknown runtime {name!r} (one of {', '.join(RUNTIMES)})")
    module, cls = _CLASSES[name]
    try:
        kind: RuntimeKind = getattr(importlib.import_module(module), cls)
        return kind
    except (ImportError, AttributeError):
        raise LabError(f"the {name} runtime is not available in this version (use --runtime netns)") from None


__all__ = ["RUNTIMES", "AgentProcess", "Runtime", "RuntimeKind", "runtime_class"]
