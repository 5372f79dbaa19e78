"""How libwebrtc (Chromium on Linux) ranks a host's networks when all it knows of them is their
interface names, as in the lab, where every uplink is a veth.

Chromium asks the OS for each interface's connection type; when that is unknown, libwebrtc
guesses the adapter type from the name: `lo<N>` loopback, `eth<N>` Ethernet, `wlan<N>` and
`v4-wlan<N>` Wi-Fi, `ipsec<N>`, `tun<N>`, `utun<N>`, `tap<N>` VPN (a prefix followed by digits
only). Cellular names (`rmnet<N>`, `clat<N>`, `pdp_ip<N>`) are recognised only by its Android and
iOS builds, so on Linux `wwan0` stays unknown. A candidate pair's network cost comes first when
it picks the pair to send on (Ethernet 0, Wi-Fi 10, unknown 50, cellular 900; a VPN costs what
its underlying network does, unknown here, plus 1); among equal costs, the candidate priority,
which follows the network order: adapter type (unknown < Ethernet < Wi-Fi < cellular < VPN),
then the name. So Wi-Fi beats an unknown name, which beats cellular, and names of one type rank
by name: `wlan0` before `wwan0`, and `lte` before `wifi` (both unknown).
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


def network_rank(name: str) -> tuple[int, int, str]:
    """Sort key of an interface, best first: network cost, adapter type, name."""
    adapter_type = adapter_type_from_name(name)
    return NETWORK_COST[adapter_type], int(adapter_type), name


def rank_interfaces(names: list[str]) -> list[str]:
    return sorted(names, key=network_rank)
