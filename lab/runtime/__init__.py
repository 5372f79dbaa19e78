"""Where a trial's peer agents run: `netns` (processes in namespaces); Docker comes later."""

from lab.runtime.base import AgentProcess, Runtime

RUNTIMES = ("netns", "docker")

__all__ = ["RUNTIMES", "AgentProcess", "Runtime"]
