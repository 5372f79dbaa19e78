"""Run a tool, or start a long-lived process, inside a named network namespace."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from lab.errors import LabError
from lab.naming import PREFIX
from lab.net import netns as namespaces

TOOL_TIMEOUT_S = 30


def netns_path(netns: str) -> Path:
    return namespaces.path(netns)


def require_lab_name(netns: str) -> None:
    """Only namespaces the lab made: shaping never touches the host's or anyone else's."""
    if not netns.startswith(f"{PREFIX}-"):
        raise LabError(f"{netns!r} is not a lab network namespace (they are named {PREFIX}-...)")


def require_netns(netns: str) -> None:
    require_lab_name(netns)
    if not netns_path(netns).exists():
        raise LabError(f"network namespace {netns!r} does not exist")


def run_in_netns(
    netns: str, argv: Sequence[str], *, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs a command-line tool (nft, sysctl) in the namespace and waits for it."""
    require_netns(netns)
    proc = namespaces.popen(netns, list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(stdin, timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    result = subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
    if check and result.returncode != 0:
        raise LabError(
            f"{argv[0]} failed in {netns} (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result


def spawn_in_netns(netns: str, argv: Sequence[str], **popen_kwargs: object) -> subprocess.Popen[bytes]:
    """Starts a process that lives in the namespace (so `icelab clean` finds and kills it)."""
    require_netns(netns)
    proc: subprocess.Popen[bytes] = namespaces.popen(netns, list(argv), **popen_kwargs)
    return proc
