"""The chrome stand-in's network ranking (lab.rtc.adapter_types): libwebrtc's adapter-type guess
from an interface name (Linux build), then its network cost, type order and the name."""

from __future__ import annotations

import pytest

from lab.rtc.adapter_types import AdapterType, adapter_type_from_name, rank_interfaces


@pytest.mark.parametrize("name,expected", [
    ("wlan0", AdapterType.WIFI), ("wlan", AdapterType.WIFI), ("v4-wlan1", AdapterType.WIFI),
    ("eth0", AdapterType.ETHERNET), ("lo", AdapterType.LOOPBACK), ("tun0", AdapterType.VPN),
    ("utun3", AdapterType.VPN), ("tap1", AdapterType.VPN), ("ipsec0", AdapterType.VPN),
    # a prefix followed by anything but digits is no match
    ("wlan0a", AdapterType.UNKNOWN), ("wlp2s0", AdapterType.UNKNOWN), ("ethx", AdapterType.UNKNOWN),
    # cellular names are guessed only by Android/iOS builds: unknown on Linux
    ("wwan0", AdapterType.UNKNOWN), ("rmnet0", AdapterType.UNKNOWN), ("lte", AdapterType.UNKNOWN),
    ("wifi", AdapterType.UNKNOWN),
])
def test_adapter_type_is_guessed_from_the_name(name: str, expected: AdapterType) -> None:
    assert adapter_type_from_name(name) == expected


def test_wifi_comes_before_unknown_names_whatever_their_order() -> None:
    assert rank_interfaces(["wwan0", "wlan0"]) == ["wlan0", "wwan0"]
    assert rank_interfaces(["lte", "wlan0"]) == ["wlan0", "lte"]       # "lte" < "wlan0" by name
    assert rank_interfaces(["aaa0", "wlan1", "wlan0"]) == ["wlan0", "wlan1", "aaa0"]


def test_names_of_one_type_rank_by_name() -> None:
    assert rank_interfaces(["wifi", "lte"]) == ["lte", "wifi"]         # the old phone's names
    assert rank_interfaces(["rmnet0", "wwan0"]) == ["rmnet0", "wwan0"]


def test_ethernet_before_wifi_and_a_vpn_after_unknown() -> None:
    assert rank_interfaces(["wlan0", "tun0", "eth1", "zzz"]) == ["eth1", "wlan0", "zzz", "tun0"]
