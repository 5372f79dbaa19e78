"""The IPv4 addresses of this namespace's usable interfaces (up and running, not loopback).

Like libwebrtc's network manager, the agent gathers ICE candidates only on usable networks:
aioice alone enumerates every address, also of an interface that is down, and then waits for its
STUN transactions to time out. Read with ioctls on a socket of the current namespace: cheap and
safe to call from the event loop (pyroute2 is not).
"""

from __future__ import annotations

import fcntl
import socket
import struct

SIOCGIFFLAGS = 0x8913
SIOCGIFADDR = 0x8915
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
