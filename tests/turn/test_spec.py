"""Relay specs: bad input gives one ConfigError before anything starts; rendering is hermetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.turn import parse_relay, parse_relays
from lab.turn.render import RelayFiles, render_config

BASE = {"name": "r1", "host": "relay", "address": "10.0.0.3", "peer_networks": ["10.0.0.0/24"]}


def files(tmp_path: Path) -> RelayFiles:
    return RelayFiles(config=tmp_path / "c", log=tmp_path / "l", pid=tmp_path / "p",
                      userdb=tmp_path / "db", cert=tmp_path / "cert", key=tmp_path / "key")


@pytest.mark.parametrize("fields, key, words", [
    ({"tls_port": 3478}, "relay", "port clash"),
    ({"min_port": 3000, "max_port": 4000}, "relay", "inside the relay port range"),
    ({"alt_address": "10.0.0.4", "tls_port": 3479}, "relay", "port clash"),
    ({"cert": "/nonexistent/relay.pem", "key": "/nonexistent/relay.key"}, "relay",
     "missing certificate"),
    ({"cert": "/etc/hostname"}, "relay", "both cert and key"),
    ({"bogus": 1}, "relay.bogus", "unknown key"),
    ({"options": {"no-such-option": True}}, "relay.options", "unknown coturn 4.6 option"),
    ({"options": {"external-ip": "1.2.3.4"}}, "relay.options", "not allowed"),
    ({"options": {"listening-port": 1}}, "relay.options", "set by the lab"),
    ({"max_allocate_lifetime": 0}, "relay.max_allocate_lifetime", "greater than or equal to 1"),
    ({"name": "Relay One"}, "relay.name", "lowercase"),
])
def test_bad_relay_spec_is_one_config_error(fields: dict, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_relay({**BASE, **fields}, file="topologies/x.toml")
    assert caught.value.file == "topologies/x.toml"
    assert caught.value.key == key
    assert words in caught.value.reason
    assert caught.value.exit_code == 2


def test_two_relays_on_one_address_and_port_clash() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_relays([BASE, {**BASE, "name": "r2"}], file="t.toml")
    assert "port clash" in caught.value.reason and "'r1'" in caught.value.reason
    # different ports on one host are fine: several relays per host for failover
    parse_relays([BASE, {**BASE, "name": "r2", "port": 3480, "tls_port": 5351}])


def test_rendered_config_is_hermetic_and_complete(tmp_path: Path) -> None:
    spec = parse_relay({**BASE, "alt_address": "10.0.0.4", "max_allocate_lifetime": 7,
                        "peer_networks": ["10.0.0.0/24", "100.64.0.0/10"],
                        "options": {"no-software-attribute": True, "user-quota": 4}})
    text = render_config(spec, files(tmp_path))
    lines = set(text.splitlines())
    for line in ["listening-ip=10.0.0.3", "listening-ip=10.0.0.4", "relay-ip=10.0.0.3",
                 "listening-port=3478", "tls-listening-port=5349", "max-allocate-lifetime=7",
                 "denied-peer-ip=0.0.0.0-255.255.255.255", "no-multicast-peers", "no-cli",
                 "allowed-peer-ip=10.0.0.0-10.0.0.255",
                 "allowed-peer-ip=100.64.0.0-100.127.255.255", "lt-cred-mech",
                 "user=icelab:icelab", f"cert={tmp_path / 'cert'}", "no-software-attribute",
                 "user-quota=4"]:
        assert line in lines, line
    assert "no-rfc5780" not in lines  # two addresses: RFC 5780 on
    assert "allow-loopback-peers" not in text and "web-admin" not in lines
    assert "$" not in text


def test_rest_api_relay_renders_auth_secret_and_no_static_users(tmp_path: Path) -> None:
    spec = parse_relay({**BASE, "auth_secret": "s3cret", "listeners": ["udp"]})
    lines = render_config(spec, files(tmp_path)).splitlines()
    assert "use-auth-secret" in lines and "static-auth-secret=s3cret" in lines
    assert not any(line.startswith("user=") for line in lines)
    assert {"no-tcp", "no-tls", "no-rfc5780"} <= set(lines)
