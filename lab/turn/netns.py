"""Run a program or open a socket inside a named lab network namespace.

Used when the relay is not driven through a lab.net Network (tests, the Docker runtime's
config checks). The namespace must already exist: nothing here creates one.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")
_NETNS_DIR = Path("/var/run/netns")


def netns_path(name: str) -> Path:
    return _NETNS_DIR / name


def popen_in_netns(name: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start `argv` as a child that joins namespace `name` before exec."""
    path = netns_path(name)
    if not path.exists():
        raise FileNotFoundError(f"network namespace {name} does not exist")
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    setns = _libc.setns

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


def call_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` on a short-lived thread that joined namespace `name` (setns is per thread).

    Sockets made there stay in that namespace and can be used from any thread afterwards.
    """
    path = netns_path(name)
    if not path.exists():
        raise FileNotFoundError(f"network namespace {name} does not exist")
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {name} failed")
            finally:
                os.close(fd)
            outcome["value"] = fn()
        except BaseException as error:  # handed to the caller
            outcome["error"] = error

    thread = threading.Thread(target=run, name=f"netns-{name}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


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
