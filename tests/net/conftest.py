"""Fixtures for lab network tests: networks that are always taken down, a two-address STUN server."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.net import Network, Topology, load_topology
from lab.turn.spec import parse_relay
from lab.turn.topology import attach_relay

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
_names = itertools.count()


@pytest.fixture
def network() -> Iterator[Callable[..., Network]]:
    """Factory: network(topology_or_file, name=None) -> Network, taken down after the test."""
    started: list[Network] = []

    def up(topo: Topology | str, name: str | None = None) -> Network:
        if isinstance(topo, str):
            topo = load_topology(TOPOLOGIES / topo)
        net = Network.up(topo, name=name or f"n{next(_names)}")
        started.append(net)
        return net

    yield up
    for net in started:
        net.down()


class StunServer:
    """A lab.turn relay answering STUN (RFC 5780 CHANGE-REQUEST) on two WAN addresses of one host."""

    def __init__(self, net: Network, host: str, log_dir: Path) -> None:
        self.primary, self.alternate = net.addresses(host)[:2]
        spec = parse_relay({"name": f"stun-{host}"[:15], "host": host, "listeners": ["udp"]})
        self.relay = attach_relay(net, spec, log_dir)
        self.relay.start()

    def stop(self) -> None:
        self.relay.close()


@pytest.fixture
def stun_server(tmp_path: Path) -> Iterator[Callable[[Network, str], StunServer]]:
    servers: list[StunServer] = []

    def start(net: Network, host: str) -> StunServer:
        server = StunServer(net, host, tmp_path)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def natdiscovery(net: Network, host: str, server: StunServer, *flags: str) -> str:
    """Run turnutils_natdiscovery from `host`; returns its report."""
    result = net.run(host, ["turnutils_natdiscovery", *flags, server.primary],
                     capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


UDP_TOOL = Path(__file__).with_name("udp_tool.py")


class UdpEcho:
    def __init__(self, net: Network, host: str, port: int = 5000) -> None:
        import sys

        self.address = f"{net.address(host)}:{port}"
        self.process = net.popen(host, [sys.executable, str(UDP_TOOL), "echo", str(port)],
                                 stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def udp_echo() -> Iterator[Callable[..., UdpEcho]]:
    echoes: list[UdpEcho] = []

    def start(net: Network, host: str, port: int = 5000) -> UdpEcho:
        echo = UdpEcho(net, host, port)
        echoes.append(echo)
        return echo

    yield start
    for echo in echoes:
        echo.stop()


def udp_probe(net: Network, host: str, port: int, echo: UdpEcho, *extra: str, background: bool = False):
    """Mapped address of host:port as the echo server sees it (and the rest of the tool's output)."""
    import sys

    argv = [sys.executable, str(UDP_TOOL), "probe", str(port), echo.address, *extra]
    if background:
        return net.popen(host, argv, stdout=subprocess.PIPE, text=True)
    return net.run(host, argv, capture_output=True, text=True, timeout=60).stdout.split("\n")


def mapped(lines: list[str]) -> str:
    return next(line.split()[1] for line in lines if line.startswith("mapped"))
