"""lab.turn relays with turnserver in the relay host's container.

lab.turn renders the config, decides the addresses and peer allow lists, and controls the
process (kill -9, restart, blackhole); only where the process runs differs from the netns
runtime: `docker exec` into the relay container, whose namespace is the host's lab namespace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from lab.turn.relay import Relay
from lab.turn.spec import RelaySpec
from lab.turn.topology import attach_relay
from lab.turn.topology import start_relays as start_topology_relays

class ContainerHosts(Protocol):
    """The part of lab.runtime.docker.DockerRuntime that relays need."""

    net: Any

    def container(self, host: str) -> Any: ...

    def popen(self, host: str, argv: list[str], **kwargs: Any) -> Any: ...


def container_relay(runtime: ContainerHosts, spec: RelaySpec, out_dir: Path) -> Relay:
    net = runtime.net
    host = spec.host
    runtime.container(host)  # fails clearly when the host has no container

    def popen(argv: list[str], kwargs: dict[str, Any]) -> Any:
        kwargs = {k: v for k, v in kwargs.items() if k != "start_new_session"}
        return runtime.popen(host, argv, **kwargs)

    return attach_relay(net, spec, out_dir, popen=popen)


def start_relays(runtime: ContainerHosts, out_dir: Path, specs: list[dict[str, Any]] | None = None) -> list[Relay]:
    """Every relay host's relay (or `specs`), validated first, then started; all or none."""
    return start_topology_relays(runtime.net, out_dir, specs,
                                 attach=lambda spec: container_relay(runtime, spec, out_dir))
