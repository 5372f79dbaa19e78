"""Relays on a lab.net Network: one per host with role "relay", addressed from the topology.

    relays = start_relays(net, out_dir)            # every relay host, defaults
    relays = start_relays(net, out_dir, [{"name": "r1", "host": "relay", "auth_secret": "s"}])
    ...
    close_relays(relays)

A spec's empty `address` becomes the host's primary address; `alt_address` defaults to the
host's second address when it has one (RFC 5780 on); `peer_networks` become every WAN subnet
of the topology, so the relay reaches the lab's public side and nothing else. Blackholes go through
lab.net's impairments on the relay host's interface.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab import naming
from lab.errors import ConfigError
from lab.turn.relay import PopenInHost, Relay
from lab.turn.spec import RelaySpec, parse_relays

if TYPE_CHECKING:
    from lab.net import Network

RELAY_ROLE = "relay"


def lab_networks(net: Network) -> tuple[IPv4Network, ...]:
    """The WAN subnets: the lab's "public" addresses, the only ones a relay can reach.

    NAT LANs stay out on purpose: a peer's host candidate there must get 403 (as with the
    private-range deny lists of production relays). Allowed, coturn would try to send to it,
    get ENETUNREACH, and tear down the whole allocation, killing the relayed call.
    """
    subnets = {IPv4Network(node.subnet) for node in net.plan.nodes.values()
               if node.kind == "wan" and node.subnet}
    return tuple(sorted(subnets))


def relay_hosts(net: Network) -> list[str]:
    return [node.name for node in net.plan.nodes.values()
            if node.kind == "host" and node.role == RELAY_ROLE]


def default_specs(net: Network) -> list[dict[str, Any]]:
    return [{"name": host.replace("_", "-")[:15], "host": host} for host in relay_hosts(net)]


def resolve_spec(net: Network, spec: RelaySpec) -> RelaySpec:
    """Fill address, alt_address and peer_networks from the running topology."""
    addresses = net.addresses(spec.host)
    update: dict[str, Any] = {}
    if spec.address is None:
        update["address"] = IPv4Address(addresses[0])
    if spec.alt_address is None and spec.rfc5780 and len(addresses) > 1:
        update["alt_address"] = IPv4Address(addresses[1])
    if not spec.peer_networks:
        update["peer_networks"] = lab_networks(net)
    # Re-validate: the resolved values take part in the port and address checks.
    data = spec.model_dump()
    data.update(update)
    return RelaySpec.model_validate(data)


def relays_state_dir(net: Network) -> Path:
    """Where a topology's relays keep config, pid and userdb: `topo down` and `clean` remove it."""
    return naming.state_dir() / net.name / "relays"


def attach_relay(net: Network, spec: RelaySpec, out_dir: Path, *,
                 popen: PopenInHost | None = None, state_dir: Path | None = None) -> Relay:
    """A relay on `spec.host`; `popen` and `state_dir` let a runtime run turnserver elsewhere
    (a container) while lab.turn keeps the config, addresses and control."""
    resolved = resolve_spec(net, spec)
    host = resolved.host
    iface = net.iface(host).name

    def popen_in_host(argv: list[str], kwargs: dict[str, Any]) -> Any:
        return net.popen(host, argv, **kwargs)

    def blackhole(on: bool, udp_only: bool) -> None:
        if on:
            net.impair.blackhole(host, iface, udp_only=udp_only)
        else:
            net.impair.unblackhole(host, iface)

    state_dir = state_dir or relays_state_dir(net) / resolved.name
    return Relay(resolved, netns_name=net.netns(host), out_dir=out_dir, state_dir=state_dir,
                 popen=popen or popen_in_host, blackholer=blackhole)


def start_relays(net: Network, out_dir: Path, specs: list[dict[str, Any]] | None = None,
                 file: str | Path | None = None,
                 attach: Callable[[RelaySpec], Relay] | None = None) -> list[Relay]:
    """Validate every spec first (one ConfigError, nothing started), then start them all.

    `attach` makes the Relay of a resolved spec (default: attach_relay on the namespace)."""
    relay_set = parse_relays(default_specs(net) if specs is None else specs, file)
    for index, spec in enumerate(relay_set.relays):
        if spec.host not in net.hosts():
            raise ConfigError(file, f"relays.{index}.host",
                              f"topology {net.name!r} has no host {spec.host!r}")
    # Check again with addresses filled in: alternate ports and addresses take part now.
    resolved = parse_relays([resolve_spec(net, spec).model_dump() for spec in relay_set.relays],
                            file)
    attach = attach or (lambda spec: attach_relay(net, spec, out_dir))
    relays = [attach(spec) for spec in resolved.relays]
    started: list[Relay] = []
    try:
        for relay in relays:
            relay.start()
            started.append(relay)
    except BaseException:
        close_relays(started)
        raise
    return relays


def close_relays(relays: list[Relay]) -> None:
    errors = []
    for relay in relays:
        try:
            relay.close()
        except Exception as error:  # keep closing the others
            errors.append(error)
    if errors:
        raise errors[0]
