"""An experiment checked against its topology before anything is created.

Everything the experiment names must exist in the topology's plan (lab.net's resolved, not yet
built, topology): the peers as hosts, the fault's nodes, interfaces and relays, the signaling
and capture hosts, a relay when TURN is asked for; and, given the runtime, every peer kind the
experiment uses can run where that runtime puts peers (a browser installed). Each problem is one
ConfigError naming the experiment file and its key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab.errors import ConfigError, LabError
from lab.net.plan import IfacePlan, NodePlan, Plan, resolve

if TYPE_CHECKING:
    from lab.experiment.spec import ExperimentSpec
    from lab.net import Topology

SIGNAL_ROLE = "signal"
RELAY_ROLE = "relay"


class PlannedNetwork:
    """The parts of lab.net's Network that a check needs, answered from the plan alone."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def node(self, node: str) -> NodePlan:
        return self.plan.node(node)

    def iface(self, node: str, iface: str | None = None) -> IfacePlan:
        return self.plan.iface(node, iface)

    def hosts(self, role: str | None = None) -> list[str]:
        return [n.name for n in self.plan.nodes.values() if n.kind == "host" and (role is None or n.role == role)]


@dataclass
class _FaultCheck:
    """What a fault's check() reads (lab.experiment.faults.FaultContext's check-time part)."""

    net: PlannedNetwork
    relays: dict[str, Any] = field(default_factory=dict)
    sfu: Any = None  # the [sfu] block when every trial goes through the SFU


def plan_of(topology: Topology) -> PlannedNetwork:
    return PlannedNetwork(resolve(topology.spec, "check"))


def check_peer_kinds(spec: ExperimentSpec, runtime: str) -> None:
    """Raise ConfigError for the first peer kind (peers.* or matrix.peer_pairs) that cannot run
    on the runtime (RuntimeKind.peer_kind_missing: e.g. its browser is not installed here)."""
    from lab.runtime import runtime_class

    kind_missing = runtime_class(runtime).peer_kind_missing
    uses: dict[str, str] = {}
    for pair in spec.matrix.pairs():
        for index, role in enumerate(("offerer", "answerer")):
            kind = pair[index] if pair is not None else spec.peers.kind_of(role)
            key = "matrix.peer_pairs" if pair is not None else (
                f"peers.{role}_kind" if getattr(spec.peers, f"{role}_kind") else "peers.kind")
            uses.setdefault(kind, key)
    for kind, key in uses.items():
        why = kind_missing(kind)
        if why is not None:
            raise ConfigError(spec.source, key, f"peer kind {kind!r} cannot run on the {runtime} runtime here: {why}")


def check_experiment(spec: ExperimentSpec, topology: Topology | None = None, runtime: str | None = None) -> None:
    """Raise ConfigError(experiment file, key, reason) for the first thing the topology (or, given
    `runtime`, the runtime) lacks."""
    from lab.experiment.faults import make_fault

    if topology is None:
        if spec.topology_path is None and spec._topology is None:
            raise ConfigError(spec.source, "topology", f"topology file {spec.topology!r} not found")
        topology = spec.load_topology()
    net = plan_of(topology)
    source = spec.source

    def need_host(name: str, key: str) -> None:
        try:
            node = net.node(name)
        except LabError as error:
            raise ConfigError(source, key, f"{error} (hosts: {', '.join(net.hosts())})") from None
        if node.kind != "host":
            raise ConfigError(source, key, f"{name} is a {node.kind}, not a host")

    need_host(spec.peers.offerer, "peers.offerer")
    need_host(spec.peers.answerer, "peers.answerer")
    relays = net.hosts(RELAY_ROLE)
    if spec.ice.turn and not relays:
        raise ConfigError(source, "ice.turn", "the topology has no relay host (a host with role = \"relay\")")
    if spec.ice.transport == "relay" and not spec.ice.turn:
        raise ConfigError(source, "ice.transport", "'relay' needs the TURN relays: set ice.turn = true")
    if spec.signaling.path == "lab":
        if spec.signaling.host is not None:
            need_host(spec.signaling.host, "signaling.host")
        elif not net.hosts(SIGNAL_ROLE):
            raise ConfigError(source, "signaling.host",
                              "no signaling host: name one, or give a topology host role = \"signal\"")
    if spec.sfu is not None:
        from lab.sfu.spec import need_sfu_host

        sfu_host = need_sfu_host(spec.sfu, {n.name: n.role for n in net.plan.nodes.values() if n.kind == "host"},
                                 source)
        if sfu_host in (spec.peers.offerer, spec.peers.answerer):
            raise ConfigError(source, "sfu.host", f"{sfu_host} runs a peer; Janus needs a host of its own")
    if spec.capture.hosts != ["*"]:  # "*" (icelab run --capture): every host of the topology
        for i, host in enumerate(spec.capture.hosts):
            need_host(host, f"capture.hosts[{i}]")
    fault = make_fault(spec.fault)
    if getattr(spec.fault, "mode", None) == "network" and spec.signaling.path != "lab":
        raise ConfigError(source, "fault.mode", "'network' blackholes the signaling host: it needs "
                          "signaling.path = \"lab\" (or use mode = \"client\")")
    try:
        every_trial_sfu = spec.sfu if spec.sfu is not None and "p2p" not in spec.sfu.paths else None
        fault.check(_FaultCheck(net, {host: None for host in relays}, every_trial_sfu))  # type: ignore[arg-type]
    except ConfigError as error:
        raise ConfigError(source, error.key, error.reason) from None
    if runtime is not None:
        check_peer_kinds(spec, runtime)
