"""Topology files: the shipped ones load; bad ones give one clear message, exit 2, create nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab import naming
from lab.errors import ConfigError
from lab.net import load_topology
from lab.net import netns as lab_netns
from tests.net.conftest import TOPOLOGIES


def scope_namespaces() -> list[str]:
    return [n for n in lab_netns.list_names() if naming.is_lab_netns(n)]


GOOD = """
[wan.internet]
subnet = "198.51.100.0/24"
[routers.nat_a]
nat = "port-restricted"
[hosts.alice]
[[links]]
a = "alice"
b = "nat_a"
[[links]]
a = "nat_a"
b = "internet"
"""


@pytest.mark.parametrize("name", ["two_peers", "phone_handover", "sfu_phone", "symmetric", "cgnat"])
def test_shipped_topologies_load(name: str) -> None:
    topo = load_topology(TOPOLOGIES / f"{name}.toml")
    assert topo.name == name
    assert "relay" in topo.spec.hosts


BAD = {
    "unknown key": (GOOD.replace('nat = "port-restricted"', 'nat = "port-restricted"\ncolour = "red"'),
                    "routers.nat_a.colour", "unknown key"),
    "bad NAT type": (GOOD.replace('"port-restricted"', '"cone-ish"'), "routers.nat_a.nat", "cone-ish"),
    "link to unknown node": (GOOD.replace('b = "nat_a"', 'b = "nat_x"'), "links[0].b", "unknown node 'nat_x'"),
    "bad CIDR": (GOOD.replace("198.51.100.0/24", "198.51.100.0/33"), "wan.internet.subnet", "CIDR"),
    "host bits in CIDR": (GOOD.replace("198.51.100.0/24", "198.51.100.7/24"), "wan.internet.subnet", "host bits"),
    "TOML syntax error": (GOOD.replace("[hosts.alice]", "[hosts.alice"), None, "TOML syntax error"),
    "address outside subnet": (GOOD.replace('b = "internet"', 'b = "internet"\naddress = "10.0.0.1"'),
                               "links[1].address", "not a host address"),
    "router without uplink": (GOOD.replace('a = "nat_a"\nb = "internet"', 'a = "alice"\nb = "internet"'),
                              "routers.nat_a", "no uplink"),
    "hairpin on symmetric": (GOOD.replace('nat = "port-restricted"', 'nat = "symmetric"\nhairpin = true'),
                             "routers.nat_a", "hairpin"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_topology_is_one_config_error(case: str, tmp_path: Path) -> None:
    text, key, reason = BAD[case]
    file = tmp_path / "bad.toml"
    file.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_topology(file)
    assert caught.value.file == str(file)
    assert caught.value.key == key
    assert reason in caught.value.reason


@pytest.mark.parametrize("case", ["unknown key", "bad NAT type", "link to unknown node", "bad CIDR", "TOML syntax error"])
def test_cli_rejects_bad_topology_with_exit_2_and_creates_nothing(case: str, tmp_path: Path) -> None:
    text, key, reason = BAD[case]
    file = tmp_path / "bad.toml"
    file.write_text(text)
    before = set(scope_namespaces())
    result = subprocess.run([sys.executable, "-m", "lab", "topo", "up", str(file), "--name", "bad"],
                            capture_output=True, text=True, env=os.environ.copy(), timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(file) in lines[0] and reason in lines[0]
    if key:
        assert key in lines[0]
    assert set(scope_namespaces()) == before
    assert not (naming.state_dir() / "bad").exists()
