"""The chrome stand-in's network ranking (lab.rtc.adapter_types): the adapter type the kernel
reports, else libwebrtc's guess from the name (Linux build), then the network cost, type order and
the name."""

from __future__ import annotations

import pytest

from lab.rtc.adapter_types import AdapterType, adapter_type, adapter_type_from_name, rank_interfaces


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


def guessed(*names: str) -> dict[str, AdapterType]:
    return {name: AdapterType.UNKNOWN for name in names}   # the kernel reported nothing


def test_the_kernels_answer_wins_over_the_name() -> None:
    assert adapter_type("lte", AdapterType.WIFI) == AdapterType.WIFI
    assert adapter_type("wlan0", AdapterType.ETHERNET) == AdapterType.ETHERNET
    assert adapter_type("wlan0") == AdapterType.WIFI


def test_veths_rank_by_name_whatever_the_names_suggest() -> None:
    ethernet = AdapterType.ETHERNET
    assert rank_interfaces({"wwan0": ethernet, "wlan0": ethernet}) == ["wlan0", "wwan0"]
    assert rank_interfaces({"wlan0": ethernet, "lte": ethernet}) == ["lte", "wlan0"]
    assert rank_interfaces({"wifi": ethernet, "lte": ethernet}) == ["lte", "wifi"]


def test_a_guessed_wifi_comes_before_unknown_names() -> None:
    assert rank_interfaces(guessed("wwan0", "wlan0")) == ["wlan0", "wwan0"]
    assert rank_interfaces(guessed("lte", "wlan0")) == ["wlan0", "lte"]       # "lte" < "wlan0" by name
    assert rank_interfaces(guessed("aaa0", "wlan1", "wlan0")) == ["wlan0", "wlan1", "aaa0"]
    assert rank_interfaces(guessed("wifi", "lte")) == ["lte", "wifi"]         # both unknown: the name


def test_ethernet_before_wifi_before_unknown_before_vpn_before_cellular() -> None:
    found = {"wlan0": AdapterType.UNKNOWN, "tun0": AdapterType.UNKNOWN, "eth1": AdapterType.UNKNOWN,
             "zzz": AdapterType.UNKNOWN, "modem": AdapterType.CELLULAR}
    assert rank_interfaces(found) == ["eth1", "wlan0", "zzz", "tun0", "modem"]
