"""Run a program or open a socket inside a named lab network namespace.

Used when the relay is not driven through a lab.net Network (tests, the Docker runtime's
config checks). The namespace must already exist: nothing here creates one.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lab.net import netns

T = TypeVar("T")


def netns_path(name: str) -> Path:
    return netns.path(name)


def popen_in_netns(name: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start `argv` as a child that joins namespace `name` before exec."""
    proc: subprocess.Popen[bytes] = netns.popen(name, argv, **kwargs)
    return proc


def run_in_netns(name: str, argv: list[str], input: bytes | None = None,
                 timeout: float = 10.0) -> subprocess.CompletedProcess[bytes]:
    proc = popen_in_netns(name, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    out, err = proc.communicate(input, timeout=timeout)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def call_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` on a short-lived thread that joined namespace `name` (lab.net.netns.call_in)."""
    return netns.call_in(name, fn)


def socket_in_netns(name: str, kind: int = socket.SOCK_DGRAM) -> socket.socket:
    """An IPv4 socket that lives in namespace `name` (usable from this process)."""
    return call_in_netns(name, lambda: socket.socket(socket.AF_INET, kind))


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
