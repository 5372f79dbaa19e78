"""Bringing networks up and down: reachability, hermeticity, isolation, failure and crash cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lab import naming
from lab.errors import LabError
from lab.net import Network, load_topology
from lab.net import build as lab_build
from lab.net import netns as lab_netns
from tests.net.conftest import TOPOLOGIES, mapped, udp_probe


def ping(net: Network, host: str, target: str, *extra: str) -> bool:
    return net.run(host, ["ping", "-c1", "-W1", *extra, target], capture_output=True).returncode == 0


def scope_namespaces() -> list[str]:
    return [n for n in lab_netns.list_names() if naming.is_lab_netns(n)]


def test_two_peers_reach_the_relay_through_their_nats(network, udp_echo) -> None:
    net = network("two_peers.toml")
    for host in ("alice", "bob"):
        for relay_address in net.addresses("relay"):
            assert ping(net, host, relay_address)
    echo = udp_echo(net, "relay")
    assert mapped(udp_probe(net, "alice", 4000, echo)) == "198.51.100.10:4000"
    assert mapped(udp_probe(net, "bob", 4000, echo)) == "198.51.100.20:4000"
    # private LANs are not reachable from the WAN or from the other LAN
    assert not ping(net, "relay", net.address("alice"))
    assert not ping(net, "alice", net.address("bob"))


def test_describe_lists_hosts_interfaces_addresses(network) -> None:
    net = network("phone_handover.toml")
    described = net.describe()
    phone = described["nodes"]["phone"]
    assert set(phone["interfaces"]) == {"wlan0", "wwan0"}
    assert phone["address"] == net.address("phone") == net.address("phone", "wlan0")
    assert phone["interfaces"]["wwan0"]["metric"] == 200
    assert described["nodes"]["nat_wifi"]["public_address"] == "198.51.100.10"
    assert described["nodes"]["relay"]["interfaces"]["eth0"]["addresses"] == ["198.51.100.2/24", "198.51.100.3/24"]
    json.dumps(described)


def _host_addresses() -> list[str]:
    with IPRoute() as ipr:
        return [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(family=2)
                if not a.get_attr("IFA_ADDRESS").startswith("127.")]


def _host_links() -> set[str]:
    with IPRoute() as ipr:
        return {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}


def test_hermetic_no_path_out_of_the_lab(network) -> None:
    links_before = _host_links()
    net = network("cgnat.toml")
    # The host's namespace gained no interface: nothing of the lab is attached to it.
    assert _host_links() - links_before == set()
    outside = _host_addresses() + ["192.0.2.1", "8.8.8.8"]
    for node in net.plan.nodes.values():
        if node.kind == "wan":
            continue
        with lab_netns.entered(node.netns):
            ipr = IPRoute()
        for address in outside:
            # Follow the lookup inside the lab: hosts may route to their router, routers may
            # route to the CGNAT, and the chain must end with "unreachable" inside the lab.
            try:
                route = ipr.route("get", dst=address)[0]
            except NetlinkError as error:
                assert error.code in (101, 113), (node.name, address, error)  # ENETUNREACH / EHOSTUNREACH
                continue
            gateway = route.get_attr("RTA_GATEWAY")
            assert gateway is not None, (node.name, address, "directly connected outside address")
            owners = [n for n in net.plan.nodes.values() for i in n.ifaces.values()
                      if any(a.split("/")[0] == gateway for a in i.addresses)]
            assert owners and owners[0].kind == "router", (node.name, address, gateway)
        assert {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()} <= set(node.ifaces) | {"lo"}
        ipr.close()
    # and a packet really stops at the first router: ICMP unreachable, not silence or a reply
    result = net.run("alice", ["ping", "-c1", "-W1", "192.0.2.1"], capture_output=True, text=True)
    assert result.returncode != 0


def test_same_topology_twice_with_the_same_addresses(network, udp_echo) -> None:
    first = network("two_peers.toml", name="twin_a")
    second = network("two_peers.toml", name="twin_b")
    assert first.address("alice") == second.address("alice")
    echo_first = udp_echo(first, "relay")
    receiver = udp_probe(second, "bob", 4100, udp_echo(second, "relay"), "--recv", "2", background=True)
    assert receiver.stdout.readline().startswith("mapped 198.51.100.20:4100")
    # alice in the first network sends to bob's public mapping: it must not cross over.
    udp_probe(first, "alice", 4200, echo_first, "--send", "198.51.100.20:4100", "--repeat", "3")
    assert receiver.stdout.readline().strip() == "timeout"
    receiver.wait()
    first.down()
    assert ping(second, "alice", "198.51.100.2")


def test_partial_failure_removes_everything(monkeypatch) -> None:
    def broken_nat(router, replace: bool = True) -> None:
        raise RuntimeError("nft exploded")

    monkeypatch.setattr(lab_build, "install_nat", broken_nat)
    before = scope_namespaces()
    with pytest.raises(LabError, match="nft exploded"):
        Network.up(load_topology(TOPOLOGIES / "two_peers.toml"), name="broken")
    assert scope_namespaces() == before
    assert not (naming.state_dir() / "broken").exists()


def test_second_up_with_same_name_is_refused(network) -> None:
    network("symmetric.toml", name="dup")
    with pytest.raises(LabError, match="already up"):
        Network.up(load_topology(TOPOLOGIES / "symmetric.toml"), name="dup")


def test_attach_from_state(network) -> None:
    net = network("two_peers.toml", name="attached")
    again = Network.attach("attached")
    assert again.address("bob") == net.address("bob")
    assert again.run("bob", ["true"]).returncode == 0
    again.close()
    with pytest.raises(LabError, match="no topology named"):
        Network.attach("nothing_here")


def icelab(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=timeout)


def test_cli_up_show_exec_down() -> None:
    try:
        up = icelab("topo", "up", str(TOPOLOGIES / "two_peers.toml"), "--name", "cli")
        assert up.returncode == 0, up.stderr
        shown = json.loads(icelab("topo", "show", "cli").stdout)
        assert shown["nodes"]["alice"]["address"] == "192.168.1.2"
        ok = icelab("topo", "exec", "cli", "alice", "--", "ping", "-c1", "-W1", "198.51.100.2")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        code = icelab("topo", "exec", "cli", "alice", "--", "sh", "-c", "exit 7")
        assert code.returncode == 7
        assert "cli" in icelab("topo", "list").stdout.split()
    finally:
        down = icelab("topo", "down", "cli")
    assert down.returncode == 0, down.stderr
    assert not any(n.startswith(naming.netns_name("cli", "")) for n in lab_netns.list_names())
    assert icelab("topo", "show", "cli").returncode == 1


ORCHESTRATOR = """
import subprocess, sys, time
from lab.net import Network, load_topology
net = Network.up(load_topology(sys.argv[1]), name="crashed")
net.popen("alice", ["sleep", "1000"])
net.popen("relay", ["sleep", "1000"], start_new_session=True)
print("ready", flush=True)
time.sleep(1000)
"""


def test_clean_after_orchestrator_killed_with_sigkill() -> None:
    orchestrator = subprocess.Popen([sys.executable, "-c", ORCHESTRATOR, str(TOPOLOGIES / "two_peers.toml")],
                                    stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert orchestrator.stdout is not None
        assert orchestrator.stdout.readline().strip() == "ready"
        names = [n for n in scope_namespaces() if n.startswith(naming.netns_name("crashed", ""))]
        sleepers = [pid for pids in lab_netns.pids_in(names).values() for pid in pids]
        assert len(sleepers) == 2
    finally:
        orchestrator.send_signal(signal.SIGKILL)
        orchestrator.wait()
    assert all(lab_netns.exists(n) for n in names)  # the crash left the lab behind
    cleaned = icelab("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert not any(lab_netns.exists(n) for n in names)
    time.sleep(0.1)
    for pid in sleepers:
        assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1][:3]
    assert not (naming.state_dir() / "crashed").exists()
    assert icelab("clean").returncode == 0  # idempotent


def test_doctor_reports_the_delay_backend() -> None:
    result = icelab("doctor", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "delay backend:" in result.stdout
    assert "network namespaces" in result.stdout


def test_adopt_a_process_namespace_for_a_host(network) -> None:
    # What the Docker runtime does with a `--network none` container: here a plain process
    # in a fresh network namespace stands in for the container.
    outsider = subprocess.Popen(["unshare", "--net", "sleep", "1000"])
    try:
        deadline = time.monotonic() + 5
        while os.stat(f"/proc/{outsider.pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino:
            assert time.monotonic() < deadline, "unshare did not run"
            time.sleep(0.01)
        net = Network.up(TOPOLOGIES / "two_peers.toml", name="adopted", adopt={"alice": outsider.pid})
        try:
            assert os.stat(f"/proc/{outsider.pid}/ns/net").st_ino == os.stat(lab_netns.path(net.netns("alice"))).st_ino
            assert ping(net, "alice", "198.51.100.2")
        finally:
            net.down()
        assert outsider.wait(timeout=5) == -signal.SIGKILL  # down kills every process in lab namespaces
    finally:
        outsider.kill()
        outsider.wait()
