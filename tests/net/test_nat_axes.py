"""NAT types are presets of RFC 4787's axes; a router may be written with the axes instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.net import load_topology
from lab.net.nat_behaviour import EIM_NAT_TYPES, NAT_PRESETS

TOPOLOGY = """
[wan.internet]
[routers.nat_a]
{router}
[hosts.alice]
[[links]]
a = "nat_a"
b = "internet"
[[links]]
a = "alice"
b = "nat_a"
"""


def load(tmp_path: Path, router: str) -> str:
    path = tmp_path / "t.toml"
    path.write_text(TOPOLOGY.format(router=router))
    return load_topology(path).spec.routers["nat_a"].nat


def test_axes_name_their_preset(tmp_path: Path) -> None:
    for name, axes in NAT_PRESETS.items():
        if axes is None:
            continue
        assert load(tmp_path, f'mapping = "{axes.mapping}"\nfiltering = "{axes.filtering}"') == name
    assert load(tmp_path, 'nat = "symmetric"\nmapping = "address-and-port-dependent"') == "symmetric"
    assert set(EIM_NAT_TYPES) == {"full-cone", "restricted-cone", "port-restricted"}


@pytest.mark.parametrize("router, words", [
    ('mapping = "address-and-port-dependent"\nfiltering = "endpoint-independent"', "no kernel NAT"),
    ('nat = "full-cone"\nfiltering = "address-dependent"', "contradicts"),
])
def test_unsupported_or_contradicting_axes_are_refused(tmp_path: Path, router: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, router)
    assert caught.value.key == "routers.nat_a" and words in caught.value.reason
