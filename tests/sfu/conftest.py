"""Fixtures of the SFU tests: the sfu_phone topology up, Janus attached to it, always closed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.net import Network, load_topology
from lab.sfu import SfuSpec
from lab.sfu.janus import Janus, janus_pids
from lab.sfu.topology import attach_janus

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "topologies" / "sfu_phone.toml"

needs_janus = pytest.mark.skipif(shutil.which("janus") is None,
                                 reason="Debian's janus is not installed (scripts/setup-debian.sh)")


@pytest.fixture
def sfu_net() -> Iterator[Network]:
    net = Network.up(load_topology(TOPOLOGY), name="sfu")
    try:
        yield net
    finally:
        leftovers = janus_pids(net.plan.namespaces())
        net.down()
        assert not leftovers, f"Janus left running: {leftovers}"


@pytest.fixture
def janus(sfu_net: Network, tmp_path: Path) -> Iterator[Janus]:
    server = attach_janus(sfu_net, SfuSpec(), tmp_path)
    try:
        yield server
    finally:
        server.close()
