"""The IPv4 addresses of this namespace's usable interfaces (up and running, not loopback).

Like libwebrtc's network manager, the agent gathers ICE candidates only on usable networks:
aioice alone enumerates every address, also of an interface that is down, and then waits for its
STUN transactions to time out. Read with ioctls on a socket of the current namespace: cheap and
safe to call from the event loop (pyroute2 is not).
"""

from __future__ import annotations

import ctypes
import fcntl
import socket
import struct
from pathlib import Path

from lab.rtc.adapter_types import AdapterType, network_rank

SIOCGIFFLAGS = 0x8913
SIOCGIFADDR = 0x8915
SIOCGIWNAME = 0x8B01
SIOCETHTOOL = 0x8946
ETHTOOL_GSET = 0x1
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40


def usable_ipv4_addresses() -> list[str]:
    return list(usable_ipv4_interfaces())


def interface_of(address: str | None) -> str | None:
    """The name of this namespace's usable interface holding `address`, or None."""
    if not address:
        return None
    return usable_ipv4_interfaces().get(address)


def usable_ipv4_interfaces() -> dict[str, str]:
    """address -> interface name, for the usable interfaces, in the kernel's order."""
    addresses: dict[str, str] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                flags = struct.unpack_from("H", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request), 16)[0]
                if not flags & IFF_UP or not flags & IFF_RUNNING or flags & IFF_LOOPBACK:
                    continue
                raw = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
            except OSError:  # no IPv4 address, or the interface just vanished
                continue
            addresses[socket.inet_ntoa(raw[20:24])] = name
    return addresses


def reported_adapter_type(name: str) -> AdapterType:
    """What the kernel says an interface is, asked as Chromium asks it: Wi-Fi if it answers the
    wireless-extensions query, Ethernet if it answers ethtool (a veth does), else unknown."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifname = name.encode()[:15]
        try:
            fcntl.ioctl(sock.fileno(), SIOCGIWNAME, struct.pack("16s16x", ifname))
            return AdapterType.WIFI
        except OSError:
            pass
        command = ctypes.create_string_buffer(struct.pack("I", ETHTOOL_GSET), 64)  # struct ethtool_cmd
        try:
            fcntl.ioctl(sock.fileno(), SIOCETHTOOL, struct.pack("16sP16x", ifname, ctypes.addressof(command)))
            return AdapterType.ETHERNET
        except OSError:
            return AdapterType.UNKNOWN


def default_route_interface() -> str | None:
    """The interface of this namespace's IPv4 default route (the lowest metric), or None.
    Read from /proc/net/route, which shows the reading thread's network namespace."""
    best: tuple[int, str] | None = None
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000":
            metric = int(fields[6])
            if best is None or metric < best[0]:
                best = (metric, fields[0])
    return best[1] if best else None


def ranked_ipv4_addresses(networks: str) -> list[str]:
    """The usable addresses a browser-like peer gathers on, best first:
    "all" (the kernel's order), "adapter-type" (Chromium: by the adapter type the kernel reports
    or libwebrtc guesses from the name, then by name; lab.rtc.adapter_types), "default-route" (Firefox without
    a camera/microphone permission: only the default route's interface; all when there is no
    default route)."""
    if networks == "all":
        return usable_ipv4_addresses()
    interfaces = usable_ipv4_interfaces()
    if networks == "adapter-type":
        types = {name: reported_adapter_type(name) for name in set(interfaces.values())}
        return sorted(interfaces, key=lambda address: network_rank(interfaces[address], types[interfaces[address]]))
    if networks == "default-route":
        default = default_route_interface()
        chosen = [address for address, name in interfaces.items() if name == default]
        return chosen or list(interfaces)
    raise ValueError(f"unknown networks rule {networks!r} (all, adapter-type, default-route)")
