"""Janus on a lab.net Network: on the host with role "sfu" (or the one named), addressed and
confined to that host's lab interface, with the topology's relay as its TURN server.

    janus = attach_janus(net, SfuSpec(), out_dir)
    janus.start()
    ...
    janus.close()
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab import naming
from lab.sfu.janus import Janus, PopenInHost
from lab.sfu.render import TurnServer
from lab.sfu.spec import SfuSpec, need_sfu_host

if TYPE_CHECKING:
    from lab.net import Network

RELAY_ROLE = "relay"


def sfu_state_dir(net: Network) -> Path:
    """Where a topology's Janus keeps its config folder: `topo down` and `clean` remove it."""
    return naming.state_dir() / net.name / "sfu"


def resolve_sfu(net: Network, spec: SfuSpec, file: str | Path | None = None) -> SfuSpec:
    """Fill host and address from the running topology."""
    roles = {n.name: n.role for n in net.plan.nodes.values() if n.kind == "host"}
    host = need_sfu_host(spec, roles, file)
    address = spec.address or IPv4Address(net.address(host))
    return spec.model_copy(update={"host": host, "address": address})


def relay_turn(net: Network) -> TurnServer | None:
    """The topology's first relay host as a TURN server (lab.turn's default user), or None."""
    from lab.turn import RelaySpec

    for node in net.plan.nodes.values():
        if node.kind == "host" and node.role == RELAY_ROLE:
            relay = RelaySpec(name="relay", host=node.name)
            user, password = next(iter(relay.users.items()))
            return TurnServer(net.address(node.name), relay.port, user, password)
    return None


def attach_janus(net: Network, spec: SfuSpec, out_dir: Path, file: str | Path | None = None,
                 popen: PopenInHost | None = None) -> Janus:
    """Janus for the resolved SFU host, not started. `popen` starts a program on that host
    (default: in its namespace; the Docker runtime's execs it into the host's container, whose
    namespace then carries the host's name, so the readiness probe reaches it the same way)."""
    resolved = resolve_sfu(net, spec, file)
    host = resolved.host
    assert host is not None
    netns_name = net.netns(host)

    def popen_in_netns(argv: list[str], kwargs: dict[str, Any]) -> Any:
        return net.popen(host, argv, **kwargs)

    def socket_in_host(kind: int) -> socket.socket:
        from lab.net import netns

        return netns.call_in(netns_name, lambda: socket.socket(socket.AF_INET, kind))

    turn = relay_turn(net) if resolved.turn else None
    iface = net.iface(host).name
    return Janus(resolved, name=host, iface=iface, state_dir=sfu_state_dir(net), out_dir=out_dir,
                 popen=popen or popen_in_netns, socket_in_host=socket_in_host, turn=turn)
