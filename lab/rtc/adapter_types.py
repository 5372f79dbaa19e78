"""How libwebrtc in Chromium on Linux ranks a host's networks (the `chrome` stand-in's
`networks = "adapter-type"`).

Each interface gets an adapter type. Chromium first asks the kernel: an interface answering the
wireless-extensions query is Wi-Fi, one answering ethtool is Ethernet (every veth does, so every
lab uplink is Ethernet to Chromium, whatever its name); only when neither answers does libwebrtc
guess from the name: `lo<N>` loopback, `eth<N>` Ethernet, `wlan<N>` and `v4-wlan<N>` Wi-Fi,
`ipsec<N>`, `tun<N>`, `utun<N>`, `tap<N>` VPN (the prefix followed by digits only). Cellular names
(`rmnet<N>`, `clat<N>`, `pdp_ip<N>`) are guessed only by its Android and iOS builds, so on Linux
`wwan0` stays unknown.
Chromium then sends on the pair of the lowest network cost (Ethernet 0, Wi-Fi 10, unknown 50,
cellular 900; a VPN costs what its underlying network does, unknown here, plus 1); among equal
costs on the highest candidate priority, which follows libwebrtc's order of networks: adapter
type (unknown < Ethernet < Wi-Fi < cellular < VPN), then the name. In the lab, where all
uplinks are veths, that is the name alone: `wlan0` before `wwan0`, `lte` before `wifi` and also
`lte` before `wlan0` (measured: a Chromium phone with uplinks `wlan0` and `lte` sent on `lte`).
"""

from __future__ import annotations

import re
from enum import IntEnum


class AdapterType(IntEnum):
    """libwebrtc's adapter types; their values are its sort order of networks."""

    UNKNOWN = 0
    ETHERNET = 1
    WIFI = 2
    CELLULAR = 4
    VPN = 8
    LOOPBACK = 16


# name prefixes (followed by digits only) of the Linux build's guess
_GUESSED: tuple[tuple[tuple[str, ...], AdapterType], ...] = (
    (("lo",), AdapterType.LOOPBACK),
    (("eth",), AdapterType.ETHERNET),
    (("wlan", "v4-wlan"), AdapterType.WIFI),
    (("ipsec", "tun", "utun", "tap"), AdapterType.VPN),
)

NETWORK_COST: dict[AdapterType, int] = {
    AdapterType.LOOPBACK: 0, AdapterType.ETHERNET: 0, AdapterType.WIFI: 10,
    AdapterType.UNKNOWN: 50, AdapterType.VPN: 51, AdapterType.CELLULAR: 900,
}


def adapter_type_from_name(name: str) -> AdapterType:
    for prefixes, adapter_type in _GUESSED:
        for prefix in prefixes:
            if re.fullmatch(re.escape(prefix) + r"[0-9]*", name):
                return adapter_type
    return AdapterType.UNKNOWN


def adapter_type(name: str, reported: AdapterType = AdapterType.UNKNOWN) -> AdapterType:
    """The type Chromium gives an interface: the kernel's answer (`reported`), else the guess."""
    return reported if reported != AdapterType.UNKNOWN else adapter_type_from_name(name)


def network_rank(name: str, reported: AdapterType = AdapterType.UNKNOWN) -> tuple[int, int, str]:
    """Sort key of an interface, best first: network cost, adapter type, name."""
    kind = adapter_type(name, reported)
    return NETWORK_COST[kind], int(kind), name


def rank_interfaces(interfaces: dict[str, AdapterType]) -> list[str]:
    """Interface names (with the type the kernel reported for each), best first."""
    return sorted(interfaces, key=lambda name: network_rank(name, interfaces[name]))
