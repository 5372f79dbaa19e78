"""lab.turn relays with turnserver in the relay host's container.

lab.turn renders the config, decides the addresses and peer allow lists, and controls the
process (kill -9, restart, blackhole); only where the process runs differs from the netns
runtime: `docker exec` into the relay container, whose namespace is the host's lab namespace.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.errors import ConfigError
from lab.turn.relay import Relay
from lab.turn.spec import parse_relays
from lab.turn.topology import close_relays, default_specs, relay_hosts, resolve_spec

if TYPE_CHECKING:
    from lab.runtime.docker.runtime import DockerRuntime


def container_relay(runtime: DockerRuntime, spec: Any, out_dir: Path) -> Relay:
    net = runtime.net
    resolved = resolve_spec(net, spec)
    host = resolved.host
    runtime.container(host)  # fails clearly when the host has no container
    iface = net.iface(host).name

    def popen(argv: list[str], kwargs: dict[str, Any]) -> Any:
        kwargs = {k: v for k, v in kwargs.items() if k != "start_new_session"}
        return runtime.popen(host, argv, **kwargs)

    def blackhole(on: bool, udp_only: bool) -> None:
        if on:
            net.impair.blackhole(host, iface, udp_only=udp_only)
        else:
            net.impair.unblackhole(host, iface)

    return Relay(resolved, netns_name=net.netns(host), out_dir=out_dir, popen=popen, blackholer=blackhole)


def start_relays(runtime: DockerRuntime, out_dir: Path, specs: list[dict[str, Any]] | None = None) -> list[Relay]:
    """Every relay host's relay (or `specs`), validated first, then started; all or none."""
    net = runtime.net
    relay_set = parse_relays(default_specs(net) if specs is None else specs, None)
    for index, spec in enumerate(relay_set.relays):
        if spec.host not in relay_hosts(net) and spec.host not in net.hosts():
            raise ConfigError(None, f"relays.{index}.host", f"topology {net.name!r} has no host {spec.host!r}")
    relays = [container_relay(runtime, spec, out_dir) for spec in relay_set.relays]
    started: list[Relay] = []
    try:
        for relay in relays:
            relay.start()
            started.append(relay)
    except BaseException:
        close_relays(started)
        raise
    return relays
