"""Real coturn on a flat lab LAN (tests/turn/conftest.py): readiness, kill/stop/restart, blackhole,
credentials."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address

import pytest

from lab import Peer
from lab.errors import ConfigError
from lab.turn import Relay, ephemeral_credential, lab_ca_file
from lab.turn.netns import socket_in_netns
from lab.turn.probe import binding_request
from tests.turn.conftest import turnservers_in


def stun_answers(client: Peer, address: str, port: int = 3478) -> bool:
    with socket_in_netns(client.lab.net.netns(client.host), socket.SOCK_DGRAM) as sock:
        return binding_request(sock, (address, port), timeout=1.0) is not None


def test_start_returns_once_relay_answers_stun_and_kill_stop_restart(make_relay, lan) -> None:
    relay = make_relay()
    client = lan.peer("a")
    relay.start()
    assert relay.running
    # answered from another lab host, not only from the relay's own namespace
    assert stun_answers(client, "10.77.0.1")
    assert relay.files.log.is_file() and relay.files.log.parent.name == "out"

    old_pid = relay.pid
    relay.restart()
    assert relay.pid != old_pid and stun_answers(client, "10.77.0.1")
    relay.kill()
    assert not relay.running and not turnservers_in([relay.netns])
    assert not stun_answers(client, "10.77.0.1")
    relay.start()
    relay.stop()
    assert not relay.running and not turnservers_in([relay.netns])


def test_several_relays_run_at_once(make_relay, lan) -> None:
    first = make_relay("r1")
    second = make_relay("r2")
    client = lan.peer("a")
    first.start()
    second.start()
    first.kill()
    assert stun_answers(client, "10.77.0.5") and not stun_answers(client, "10.77.0.1")


def test_missing_address_or_busy_port_is_one_config_error_before_start(make_relay, lan,
                                                                     tmp_path) -> None:
    relay = make_relay()
    relay.start()
    # an address the host does not have (coturn itself would retry the bind forever)
    spec = relay.spec.model_copy(update={"name": "r2", "port": 3480, "tls_port": 5351,
                                         "alt_address": IPv4Address("10.77.0.66")})
    with pytest.raises(ConfigError, match="10.77.0.66 is not an address of host hr1"):
        Relay(spec, netns_name=relay.netns, out_dir=tmp_path / "out").start()
    # a port already taken by the running relay on the same host
    clash = Relay(relay.spec.model_copy(update={"name": "r3"}), netns_name=relay.netns,
                  out_dir=tmp_path / "out")
    with pytest.raises(ConfigError, match="port clash: 10.77.0.1:3478 is in use"):
        clash.start()
    assert turnservers_in(lan.net.plan.namespaces()) == [relay.pid]


def test_blackhole_drops_relay_traffic_until_lifted(make_relay, lan) -> None:
    relay = make_relay()
    client = lan.peer("a")
    relay.start()
    relay.blackhole()
    assert not stun_answers(client, "10.77.0.1")
    relay.unblackhole()
    assert stun_answers(client, "10.77.0.1")


def test_expired_ephemeral_credentials_are_refused(make_relay, turn_client) -> None:
    relay = make_relay(auth_secret="lab-secret", max_allocate_lifetime=5)
    relay.start()
    server = ["10.77.0.1", 3478]

    valid = relay.credential("alice", ttl=60)
    ok = turn_client("a", server=server, username=valid.username, password=valid.password)
    assert "allocated" in ok.read("allocated")
    # lifetime down to seconds (aioice logs the granted lifetime before it reports the allocation)
    assert any("expires in 5 seconds" in line.get("info", "") for line in ok.seen)

    expired = ephemeral_credential("lab-secret", "alice", ttl=-30)
    refused = turn_client("a", server=server, username=expired.username,
                          password=expired.password)
    line = refused.read("allocated")["error"]
    assert "401 Unauthorized" in line and "expired" in line and "10.77.0.1:3478" in line

    wrong = ephemeral_credential("other-secret", "alice", ttl=60)
    line = turn_client("a", server=server, username=wrong.username,
                       password=wrong.password).read("allocated")["error"]
    assert "401" in line and "wrong secret" in line


def test_restarted_relay_does_not_bring_the_old_allocation_back(make_relay, turn_client) -> None:
    relay = make_relay()
    relay.start()
    cred = relay.credential()
    client = turn_client("a", server=["10.77.0.1", 3478], username=cred.username,
                         password=cred.password)
    assert "allocated" in client.read("allocated")
    client.command("refresh")
    assert client.read("refresh")["refresh"] == "ok"
    relay.restart()
    client.command("refresh")
    # RFC 8656: a refresh for an allocation the server does not hold -> 437 Allocation Mismatch
    assert client.read("refresh")["refresh"].startswith("437")


@pytest.mark.parametrize("transport, tls", [("tcp", False), ("tcp", True)])
def test_allocation_over_tcp_and_tls(make_relay, turn_client, transport, tls) -> None:
    relay = make_relay()
    relay.start()
    cred = relay.credential()
    client = turn_client("a", server=["10.77.0.1", 5349 if tls else 3478], username=cred.username,
                         password=cred.password, transport=transport, tls=tls,
                         ca_file=lab_ca_file())
    assert "allocated" in client.read("allocated")


def test_tls_without_the_lab_ca_is_refused_with_a_clear_line(make_relay, turn_client) -> None:
    relay = make_relay()
    relay.start()
    cred = relay.credential()
    client = turn_client("a", server=["10.77.0.1", 5349], username=cred.username,
                         password=cred.password, transport="tcp", tls=True,
                         ca_file="/nonexistent-ca.pem")
    line = client.read("allocated")["error"]
    assert "TLS failed" in line and "certificate verify failed" in line


def test_relay_refuses_to_relay_outside_the_lab(make_relay, turn_client) -> None:
    relay = make_relay()
    relay.start()
    cred = relay.credential()
    client = turn_client("a", server=["10.77.0.1", 3478], username=cred.username,
                         password=cred.password)
    assert "allocated" in client.read("allocated")
    for outside in ("8.8.8.8", "192.168.1.1", "127.0.0.1", "224.0.0.251", "10.78.0.1"):
        client.command(f"permit {outside}")
        assert client.read("permit")["permit"].startswith("403"), outside
    client.command("permit 10.77.0.3")  # a lab address
    assert client.read("permit")["permit"] == "ok"


def test_restart_while_a_tcp_client_is_connected(make_relay, turn_client) -> None:
    relay = make_relay()
    relay.start()
    cred = relay.credential()
    client = turn_client("a", server=["10.77.0.1", 3478], username=cred.username,
                         password=cred.password, transport="tcp")
    assert "allocated" in client.read("allocated")
    relay.restart()  # the killed relay's TCP connection lingers in TIME_WAIT: not a clash
    relay.restart(graceful=True)
    assert relay.running
