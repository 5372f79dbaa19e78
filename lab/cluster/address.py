"""Cluster addresses: what `--cluster` and `icelab worker` accept, and the loopback rule."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from lab.errors import ConfigError

LOCAL_PREFIX = "local:"


def local_workers(address: str) -> int | None:
    """N of "local:N", else None."""
    if not address.startswith(LOCAL_PREFIX):
        return None
    count = address[len(LOCAL_PREFIX):]
    if not count.isdigit() or int(count) < 1:
        raise ConfigError(None, "--cluster", f"{address!r}: expected local:N with N >= 1 worker processes")
    return int(count)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback
                   for info in socket.getaddrinfo(host, None))
    except (OSError, ValueError):
        return False


def check_address(address: str, *, insecure: bool, option: str = "--cluster") -> str:
    """A scheduler address the lab may use: tls:// always; tcp:// only to a loopback address with
    --insecure (a worker runs trials as root: whoever can submit a task owns the host)."""
    parts = urlsplit(address)
    if parts.scheme not in ("tls", "tcp") or not parts.hostname:
        raise ConfigError(None, option, f"{address!r}: expected tls://HOST:PORT (or local:N)")
    if parts.scheme == "tcp":
        if not insecure:
            raise ConfigError(None, option, f"{address!r}: plain tcp:// is refused (anyone who can submit a "
                              "task owns the host); use tls:// with --certs, or --insecure on a loopback address")
        if not is_loopback(parts.hostname):
            raise ConfigError(None, option, f"{address!r}: plain tcp:// is allowed only on a loopback "
                              "address (127.0.0.1, ::1); use tls:// with --certs")
    return address
