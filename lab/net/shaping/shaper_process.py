"""Starts, reconfigures and stops the userspace shaper process of one interface.

The process runs inside the lab namespace (so `icelab clean` kills it with the rest) and is
found again by a pid file under the lab's state folder, so any process of the lab, not only the
one that started it, can change or stop it.
"""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from lab.errors import LabError
from lab.naming import state_dir
from lab.net.shaping import shaper
from lab.net.shaping.nsexec import spawn_in_netns
from lab.net.shaping.shaper import PROCESS_NAME

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
CONTROL_TIMEOUT_S = 5.0
# Shapers this process started. Each has a thread that reaps it whenever it ends (stopped here,
# killed by `icelab clean`, or gone with its namespace), so a long-lived caller keeps no zombies.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _reap_when_done(proc: subprocess.Popen[bytes]) -> None:
    proc.wait()
    _children.pop(proc.pid, None)


def shaping_dir() -> Path:
    return state_dir() / "shaping"


def _file(netns: str, ifname: str, suffix: str) -> Path:
    return shaping_dir() / f"{netns}.{ifname}{suffix}"


def _control_path(netns: str, ifname: str) -> Path:
    # unix socket paths are limited to 107 bytes, so this one is named by a digest
    digest = hashlib.sha1(f"{netns}/{ifname}".encode()).hexdigest()[:16]
    return shaping_dir() / f"{digest}.sock"


def _is_our_shaper(pid: int, netns: str, ifname: str) -> bool:
    """Guards against a stale pid file whose pid now belongs to another process."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return (
        PROCESS_NAME.encode() in argv
        and _flag(argv, b"--netns") == netns.encode()
        and _flag(argv, b"--ifname") == ifname.encode()
        and not _exited(pid)
    )


def _flag(argv: list[bytes], name: bytes) -> bytes | None:
    try:
        return argv[argv.index(name) + 1]
    except (ValueError, IndexError):
        return None


def running_pid(netns: str, ifname: str) -> int | None:
    try:
        pid = int(_file(netns, ifname, ".pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _is_our_shaper(pid, netns, ifname) else None


def start(netns: str, ifname: str, queue_num: int, delay_ms: float, jitter_ms: float) -> int:
    """Starts the shaper and returns its pid once its queue is bound."""
    shaping_dir().mkdir(parents=True, exist_ok=True)
    control = _control_path(netns, ifname)
    argv = [
        sys.executable, "-E", "-s", shaper.__file__, PROCESS_NAME,
        "--netns", netns, "--ifname", ifname, "--queue", str(queue_num),
        "--control", str(control), "--delay-ms", repr(delay_ms), "--jitter-ms", repr(jitter_ms),
    ]
    log_path = _file(netns, ifname, ".log")
    with open(log_path, "ab") as log:
        proc = spawn_in_netns(
            netns, argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
            start_new_session=True, close_fds=True,
        )
    _children[proc.pid] = proc
    threading.Thread(target=_reap_when_done, args=(proc,), name=f"reap-shaper-{proc.pid}", daemon=True).start()
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(START_TIMEOUT_S) and proc.stdout.readline() == b"ready\n"
    proc.stdout.close()
    if not ready:
        _terminate(proc.pid)
        _reap(proc.pid)
        detail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
        raise LabError(
            f"the delay shaper for {ifname} in {netns} did not start: " + " | ".join(detail)
        )
    _file(netns, ifname, ".pid").write_text(str(proc.pid))
    return proc.pid


def reconfigure(netns: str, ifname: str, delay_ms: float, jitter_ms: float) -> None:
    """Changes delay and jitter of a running shaper; returns once it applies them."""
    request = json.dumps({"delay_ms": delay_ms, "jitter_ms": jitter_ms}).encode() + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CONTROL_TIMEOUT_S)
        try:
            sock.connect(str(_control_path(netns, ifname)))
            sock.sendall(request)
            answer = sock.makefile("rb").readline()
        except OSError as exc:
            raise LabError(f"the delay shaper for {ifname} in {netns} did not answer: {exc}") from exc
    if answer != b"ok\n":
        raise LabError(f"the delay shaper for {ifname} in {netns} refused {request!r}")


def stop(netns: str, ifname: str) -> None:
    """Stops the shaper (it releases the packets it holds first). Idempotent."""
    pid = running_pid(netns, ifname)
    if pid is not None:
        _terminate(pid)
        _reap(pid)
    _file(netns, ifname, ".pid").unlink(missing_ok=True)
    _control_path(netns, ifname).unlink(missing_ok=True)
    log = _file(netns, ifname, ".log")
    if log.exists() and log.stat().st_size == 0:
        log.unlink()


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if _exited(pid):
            return
        time.sleep(0.005)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _exited(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is not None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


def _reap(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None:
        try:
            child.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
