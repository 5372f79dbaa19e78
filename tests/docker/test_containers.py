"""Containers on the lab topology: no Docker network, the lab label, the same addresses and
routes as the netns runtime, hermetic, programs controlled by their own pid, `icelab clean`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import naming
from lab.net import Network, load_topology
from lab.runtime.docker import DockerRuntime
from lab.runtime.docker.containers import lab_containers
from lab.runtime.docker.engine import client
from tests.docker.conftest import DOCKER

pytestmark = DOCKER
ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "topologies" / "two_peers.toml"


@pytest.fixture
def docker_net(tmp_path: Path) -> Iterator[tuple[Network, DockerRuntime]]:
    net = Network.up(load_topology(TOPOLOGY), name=f"dk{os.getpid() % 10000}")
    runtime = None
    try:
        runtime = DockerRuntime.attach(net, tmp_path, peers=["alice", "bob"])
        yield net, runtime
    finally:
        if runtime is not None:
            runtime.close()
        net.down()


def _ip_json(net: Network, host: str, *args: str) -> list[dict]:
    done = net.run(host, ["ip", "-4", "-j", *args], capture_output=True, check=True, timeout=10)
    return json.loads(done.stdout)


def _network_state(net: Network, host: str) -> tuple[set, set, set]:
    addresses = {(link["ifname"], a["local"], a["prefixlen"])
                 for link in _ip_json(net, host, "addr", "show") for a in link.get("addr_info", [])}
    routes = {(r.get("dst"), r.get("gateway"), r.get("dev"), r.get("metric"), r.get("prefsrc"))
              for r in _ip_json(net, host, "route", "show", "table", "all")
              if r.get("type", "unicast") == "unicast"}
    rules = {(r.get("priority"), r.get("src"), r.get("table")) for r in _ip_json(net, host, "rule", "show")}
    return addresses, routes, rules


def test_containers_have_no_docker_network_and_carry_the_lab_label(docker_net) -> None:
    net, runtime = docker_net
    assert set(runtime.containers) == {"alice", "bob", "relay"}
    for host, container in runtime.containers.items():
        info = client().api.inspect_container(container.id)
        assert info["HostConfig"]["NetworkMode"] == "none"
        assert info["NetworkSettings"]["Networks"].keys() <= {"none"}
        assert info["Config"]["Labels"][naming.DOCKER_LABEL] == naming.scope()
        # The host's lab namespace is the container's namespace now.
        assert os.stat(f"/run/netns/{net.netns(host)}").st_ino == os.stat(container.netns_path).st_ino
        assert os.stat(container.netns_path).st_ino != os.stat("/proc/self/ns/net").st_ino
    assert runtime.containers["alice"].image.startswith("icelab/peer")
    assert runtime.containers["relay"].image.startswith("icelab/relay")


@pytest.mark.parametrize("topology", ["two_peers.toml", "phone_handover.toml"])
def test_container_hosts_get_the_netns_runtime_addresses_and_routes(topology: str, tmp_path: Path) -> None:
    spec = load_topology(ROOT / "topologies" / topology)
    plain = Network.up(spec, name=f"pl{os.getpid() % 10000}")
    boxed = Network.up(spec, name=f"bx{os.getpid() % 10000}")
    runtime = None
    try:
        peers = [h for h in plain.hosts() if plain.node(h).role is None]
        runtime = DockerRuntime.attach(boxed, tmp_path, peers=peers, relays=[])
        for host in peers:
            assert _network_state(boxed, host) == _network_state(plain, host), host
            # ... seen from inside the container too (its own iproute2)
            inside = runtime.popen(host, ["ip", "-4", "-o", "addr", "show"], stdout=subprocess.PIPE)
            listed = inside.communicate(timeout=20)[0].decode()
            for address in plain.addresses(host):
                assert address in listed
    finally:
        if runtime is not None:
            runtime.close()
        boxed.down()
        plain.down()


def test_a_container_reaches_the_lab_and_nothing_outside(docker_net) -> None:
    net, runtime = docker_net
    probe = ("import socket, sys\n"
             "def reach(addr, port):\n"
             "    s = socket.socket(); s.settimeout(2)\n"
             "    try: s.connect((addr, port)); return 'open'\n"
             "    except ConnectionRefusedError: return 'refused'\n"
             "    except OSError as e: return type(e).__name__\n"
             "print(reach(sys.argv[1], 9), reach(sys.argv[2], 53))\n")
    # The relay host is in the lab (connection refused by its kernel); the host machine's own
    # resolver is not reachable at all.
    outside = subprocess.run(["sh", "-c", "awk '/^nameserver/{print $2; exit}' /etc/resolv.conf"],
                             capture_output=True, text=True).stdout.strip() or "192.0.2.1"
    proc = runtime.popen("alice", ["/opt/icelab/bin/python", "-c", probe, net.address("relay"), outside],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lab_result, outside_result = proc.communicate(timeout=30)[0].decode().split()
    assert lab_result == "refused"
    assert outside_result != "open"


def test_signals_reach_the_program_in_the_container(docker_net) -> None:
    net, runtime = docker_net
    relays = runtime.start_relays()
    try:
        relay = relays[0]
        program = relay._running.process.program_pid()
        assert program is not None and program != relay.pid
        assert Path(f"/proc/{program}/comm").read_text().strip() == "turnserver"
        relay.kill()
        assert not Path(f"/proc/{program}").exists() or "Z" in Path(f"/proc/{program}/stat").read_text().split()[2]
        relay.restart()
        assert relay.running
        log = Path(relay.files.log).read_text()
        assert log.count("starting relay") == 2
    finally:
        for relay in relays:
            relay.close()


def test_icelab_clean_removes_the_scopes_containers(tmp_path: Path) -> None:
    net = Network.up(load_topology(TOPOLOGY), name=f"cl{os.getpid() % 10000}")
    try:
        DockerRuntime.attach(net, tmp_path, peers=["alice", "bob"])  # as if the orchestrator died here
        assert len(lab_containers(naming.scope())) == 3
        done = subprocess.run([sys.executable, "-m", "lab", "clean"], capture_output=True, text=True,
                              env={**os.environ, "ICELAB_SCOPE": naming.scope()}, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "removed 3 Docker containers" in done.stdout
        assert lab_containers(naming.scope()) == []
        again = subprocess.run([sys.executable, "-m", "lab", "clean"], capture_output=True, text=True,
                               env={**os.environ, "ICELAB_SCOPE": naming.scope()}, timeout=120)
        assert again.returncode == 0 and "Docker" not in again.stdout
    finally:
        net.down()


def test_the_agent_may_raise_its_priority_as_on_the_netns_runtime(docker_net) -> None:
    net, runtime = docker_net
    proc = runtime.popen("alice", ["/opt/icelab/bin/python", "-c", "import os; os.nice(-10); print(os.nice(0))"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.communicate(timeout=30)[0].decode().strip() == "-10"
