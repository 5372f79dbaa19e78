"""Run a tool, or start a long-lived process, inside a named network namespace."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from lab.errors import LabError
from lab.naming import PREFIX

NETNS_RUN_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def netns_path(netns: str) -> Path:
    return NETNS_RUN_DIR / netns


def require_lab_name(netns: str) -> None:
    """Only namespaces the lab made: shaping never touches the host's or anyone else's."""
    if not netns.startswith(f"{PREFIX}-"):
        raise LabError(f"{netns!r} is not a lab network namespace (they are named {PREFIX}-...)")


def require_netns(netns: str) -> None:
    require_lab_name(netns)
    if not netns_path(netns).exists():
        raise LabError(f"network namespace {netns!r} does not exist")


def _enter(netns: str) -> Callable[[], None]:
    path = str(netns_path(netns))

    def enter() -> None:  # runs in the child between fork and exec
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            os._exit(127)
        os.close(fd)

    return enter


def run_in_netns(
    netns: str, argv: Sequence[str], *, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs a command-line tool (nft, sysctl) in the namespace and waits for it."""
    require_netns(netns)
    result = subprocess.run(
        list(argv),
        input=stdin,
        capture_output=True,
        text=True,
        preexec_fn=_enter(netns),
        timeout=30,
    )
    if check and result.returncode != 0:
        raise LabError(
            f"{argv[0]} failed in {netns} (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result


def spawn_in_netns(netns: str, argv: Sequence[str], **popen_kwargs: object) -> subprocess.Popen[bytes]:
    """Starts a process that lives in the namespace (so `icelab clean` finds and kills it)."""
    require_netns(netns)
    return subprocess.Popen(list(argv), preexec_fn=_enter(netns), **popen_kwargs)  # type: ignore[call-overload]
