"""A running lab network: bring a topology up, reach its hosts, take it down."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab import naming
from lab.errors import LabError
from lab.net import build, links, netns
from lab.net.impair import Impairments
from lab.net.model import TOPOLOGY_NAME
from lab.net.plan import UPLINK, IfacePlan, NodePlan, Plan, resolve
from lab.net.topology import Topology, load_topology
from lab.net.worker import on_lab_thread

PLAN_FILE = "plan.json"


def _state_path(name: str) -> Path:
    return naming.state_dir() / name


class Network:
    """A topology that is up. Create with Network.up(topo) or Network.attach(name)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.sockets = links.Sockets()
        self.impair = Impairments(self)

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    def up(cls, topo: Topology | str | Path, name: str | None = None, adopt: dict[str, int] | None = None) -> Network:
        """Build the topology (well under a second); on any failure nothing is left behind.

        `topo` is a Topology or the path of a topology file. `adopt` maps hosts to the pid of a
        process whose (empty) network namespace the host should use, e.g. a container started
        with `--network none`: its interfaces, addresses and routes are built there instead.
        """
        if not isinstance(topo, Topology):

            topo = load_topology(topo)
        return _up(cls, topo, name, adopt or {})

    @classmethod
    def _up(cls, topo: Topology, name: str | None, adopt: dict[str, int]) -> Network:
        name = name or topo.name
        for host in adopt:
            if host not in topo.spec.hosts:
                raise LabError(f"adopt: {host!r} is not a host of the topology")
        if not TOPOLOGY_NAME.match(name):
            raise LabError(f"topology name {name!r}: use letters, digits, '_' or '.' (at most 40)")
        plan = resolve(topo.spec, name)
        state = _state_path(name)
        state.parent.mkdir(parents=True, exist_ok=True)
        try:
            state.mkdir()
        except FileExistsError:
            building = not (state / PLAN_FILE).exists()  # another process is between mkdir and save
            if building or any(netns.exists(ns) for ns in plan.namespaces()):
                raise LabError(f"a topology named {name!r} is already up (icelab topo down {name})") from None
            shutil.rmtree(state, ignore_errors=True)  # left by a crash: its namespaces are gone
            state.mkdir()
        stale = [ns for ns in plan.namespaces() if netns.exists(ns)]
        if stale:
            shutil.rmtree(state, ignore_errors=True)
            raise LabError(f"namespaces of {name!r} exist already: {', '.join(stale)} (run icelab clean)")
        network = cls(plan)
        try:
            network._save()
            build.build(plan, network.sockets, adopt)
            for veth in plan.veths:
                if veth.shaping:
                    shaping: dict[str, Any] = dict(veth.shaping)
                    network.impair.shape(veth.inner_node, veth.inner_name, **shaping)
        except BaseException as error:
            build.teardown(plan.namespaces(), network.sockets)
            _forget_shaping(plan.namespaces())
            shutil.rmtree(state, ignore_errors=True)
            if isinstance(error, LabError):
                raise
            if isinstance(error, Exception):
                raise LabError(f"building topology {name!r} failed, everything removed: {error}") from error
            raise
        return network

    @classmethod
    def attach(cls, name: str) -> Network:
        file = _state_path(name) / PLAN_FILE
        try:
            plan = Plan.model_validate_json(file.read_text())
        except FileNotFoundError:
            raise LabError(f"no topology named {name!r} is up (scope {naming.scope() or '-'})") from None
        return cls(plan)

    @on_lab_thread
    def down(self) -> None:
        build.teardown(self.plan.namespaces(), self.sockets)
        _forget_shaping(self.plan.namespaces())
        shutil.rmtree(_state_path(self.name), ignore_errors=True)

    @on_lab_thread
    def close(self) -> None:
        """Release this process's sockets; the network stays up."""
        self.sockets.close()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def _save(self) -> None:
        state = _state_path(self.name)
        tmp = state / f".{PLAN_FILE}.{os.getpid()}"
        tmp.write_text(self.plan.model_dump_json(indent=1))
        tmp.replace(state / PLAN_FILE)

    # -- lookups ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.plan.name

    def node(self, node: str) -> NodePlan:
        return self.plan.node(node)

    def netns(self, node: str) -> str:
        return self.node(node).netns

    def iface(self, node: str, iface: str | None = None) -> IfacePlan:
        return self.plan.iface(node, iface)

    def address(self, node: str, iface: str | None = None) -> str:
        """The node's IPv4 address (primary interface unless `iface`)."""
        return self.addresses(node, iface)[0]

    def addresses(self, node: str, iface: str | None = None) -> list[str]:
        return [cidr.split("/")[0] for cidr in self.iface(node, iface).addresses]

    def public_address(self, router: str) -> str:
        return self.address(router, UPLINK)

    def hosts(self) -> list[str]:
        return [n.name for n in self.plan.nodes.values() if n.kind == "host"]

    # -- processes -------------------------------------------------------------------------
    def popen(self, node: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """Start `argv` inside the node's namespace (subprocess.Popen keyword arguments apply)."""
        return netns.popen(self.netns(node), argv, **kwargs)

    def run(self, node: str, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess:
        timeout = kwargs.pop("timeout", None)
        check = kwargs.pop("check", False)
        input_data = kwargs.pop("input", None)
        if "capture_output" in kwargs and kwargs.pop("capture_output"):
            kwargs["stdout"] = subprocess.PIPE
            kwargs["stderr"] = subprocess.PIPE
        if input_data is not None:
            kwargs["stdin"] = subprocess.PIPE
        with self.popen(node, argv, **kwargs) as process:
            try:
                stdout, stderr = process.communicate(input_data, timeout=timeout)
            except BaseException:
                process.kill()
                process.wait()
                raise
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        if check:
            result.check_returncode()
        return result

    # -- description -----------------------------------------------------------------------
    def describe(self) -> dict:
        nodes = {}
        for node in self.plan.nodes.values():
            entry: dict[str, Any] = {"kind": node.kind, "netns": node.netns}
            if node.role:
                entry["role"] = node.role
            if node.kind == "router":
                entry.update(nat=node.nat, udp_timeout=node.udp_timeout, hairpin=node.hairpin,
                             lan=node.subnet, public_address=self.public_address(node.name))
            if node.kind == "wan":
                entry["subnet"] = node.subnet
            ifaces = {}
            for iface in node.ifaces.values():
                item: dict[str, Any] = {"addresses": iface.addresses}
                if iface.peer:
                    item["peer"] = iface.peer
                if iface.gateway:
                    item["gateway"] = iface.gateway
                if iface.metric is not None:
                    item["metric"] = iface.metric
                if iface.master:
                    item["bridge"] = iface.master
                ifaces[iface.name] = item
            entry["interfaces"] = ifaces
            if node.kind == "host":
                with contextlib.suppress(KeyError):
                    entry["address"] = self.address(node.name)
                if node.default_iface:
                    entry["default_iface"] = node.default_iface
            nodes[node.name] = entry
        return {"name": self.name, "scope": self.plan.scope, "nodes": nodes}

    def describe_json(self) -> str:
        return json.dumps(self.describe(), indent=2)


@on_lab_thread
def _up(cls: type[Network], topo: Topology, name: str | None, adopt: dict[str, int]) -> Network:
    return cls._up(topo, name, adopt)


def _forget_shaping(namespaces: list[str]) -> None:
    """Drop lab.net.shaping's per-interface state files of namespaces that are gone."""
    shaping_dir = naming.state_dir() / "shaping"
    if not shaping_dir.is_dir():
        return
    prefixes = tuple(f"{ns}." for ns in namespaces)
    for file in shaping_dir.iterdir():
        if file.name.startswith(prefixes):
            file.unlink(missing_ok=True)


def list_up() -> list[str]:
    """Names of topologies that are up in the current scope."""
    base = naming.state_dir()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / PLAN_FILE).is_file())
