"""Run a program or open a socket inside a named lab network namespace.

Used when the relay is not driven through a lab.net Network (tests, the Docker runtime's
config checks). The namespace must already exist: nothing here creates one.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from pyroute2 import netns as pyroute2_netns

_CLONE_NEWNET = 0x40000000
_NETNS_DIR = Path("/var/run/netns")


def netns_path(name: str) -> Path:
    return _NETNS_DIR / name


def popen_in_netns(name: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start `argv` as a child that joins namespace `name` before exec."""
    path = netns_path(name)
    if not path.exists():
        raise FileNotFoundError(f"network namespace {name} does not exist")
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    libc = ctypes.CDLL(None, use_errno=True)
    setns = libc.setns

    def join() -> None:
        if setns(fd, _CLONE_NEWNET) != 0:
            os._exit(127)

    try:
        return subprocess.Popen(argv, preexec_fn=join, **kwargs)
    finally:
        os.close(fd)


def run_in_netns(name: str, argv: list[str], input: bytes | None = None,
                 timeout: float = 10.0) -> subprocess.CompletedProcess[bytes]:
    proc = popen_in_netns(name, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    out, err = proc.communicate(input, timeout=timeout)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def socket_in_netns(name: str, kind: int = socket.SOCK_DGRAM) -> socket.socket:
    """An IPv4 socket that lives in namespace `name` (usable from this process)."""
    return pyroute2_netns.create_socket(name, socket.AF_INET, kind, flags=0)


def turnserver_pids(namespaces: list[str]) -> list[int]:
    """pids of turnserver processes whose network namespace is one of `namespaces`."""
    wanted = set()
    for name in namespaces:
        try:
            wanted.add(os.stat(netns_path(name)).st_ino)
        except FileNotFoundError:
            pass
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if (os.stat(f"/proc/{pid}/ns/net").st_ino in wanted
                    and Path(f"/proc/{pid}/comm").read_text().strip() == "turnserver"):
                found.append(int(pid))
        except OSError:
            continue
    return found
