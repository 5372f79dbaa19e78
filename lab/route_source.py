"""Which local address the kernel would send from to a server now: how a client tells that a
network change took its connection's path away (no packet is sent)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def route_source(url: str) -> str | None:
    """The source address the kernel picks now for the URL's host, or None when there is no
    route to it (or the host is a name: the lab uses addresses)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or (443 if parts.scheme in ("wss", "https") else 80)
    if host is None:
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, port))
            return str(probe.getsockname()[0])
    except OSError:
        return None
