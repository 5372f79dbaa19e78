"""Network namespace primitives, done in-process (no fork): create, enter, list, kill, remove.

Entering a namespace switches only the calling thread (setns is per-thread for CLONE_NEWNET),
and always switches back, so sockets opened inside stay bound to the namespace. This module is
the one place the lab enters a namespace: `entered` (this thread, for a block), `call_in` (a
short-lived thread), `popen` (a child process, before exec); lab.turn and lab.net.shaping use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lab.errors import LabError

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
MNT_DETACH = 2

T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def path(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return path(name).exists()


def list_names() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def _ensure_run_dir() -> None:
    # Same as iproute2: /run/netns must be a shared mount so bind mounts propagate.
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    run_dir = str(NETNS_DIR).encode()
    if _libc.mount(b"none", run_dir, None, MS_SHARED | MS_REC, None) != 0:
        _check(_libc.mount(run_dir, run_dir, b"none", MS_BIND | MS_REC, None), "bind /run/netns")
        _check(_libc.mount(b"none", run_dir, None, MS_SHARED | MS_REC, None), "share /run/netns")


_run_dir_ready = False


def create(name: str) -> None:
    """Create a named namespace (like `ip netns add`), without forking."""
    global _run_dir_ready
    if not _run_dir_ready:
        _ensure_run_dir()
        _run_dir_ready = True
    target = path(name)
    fd = os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare")
            _check(
                _libc.mount(b"/proc/thread-self/ns/net", str(target).encode(), b"none", MS_BIND, None),
                f"bind namespace {name}",
            )
        finally:
            _check(_libc.setns(home, CLONE_NEWNET), "return to home namespace")
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    finally:
        os.close(home)


def adopt(name: str, pid: int) -> None:
    """Name the network namespace of process `pid` (e.g. a container's), like `ip netns attach`."""
    global _run_dir_ready
    if not _run_dir_ready:
        _ensure_run_dir()
        _run_dir_ready = True
    source = f"/proc/{pid}/ns/net"
    if not os.path.exists(source):
        raise LabError(f"no process {pid} to take the network namespace of")
    target = path(name)
    os.close(os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    try:
        _check(_libc.mount(source.encode(), str(target).encode(), b"none", MS_BIND, None), f"bind {source}")
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise


def remove(name: str) -> None:
    """Unmount and delete a named namespace; the kernel frees it once no process is inside."""
    target = path(name)
    _libc.umount2(str(target).encode(), MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        target.unlink()


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with the calling thread inside namespace `name`."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        try:
            fd = os.open(path(name), os.O_RDONLY)
        except FileNotFoundError:
            raise LabError(f"network namespace {name} does not exist") from None
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), f"enter {name}")
        finally:
            os.close(fd)
        try:
            yield
        finally:
            _check(_libc.setns(home, CLONE_NEWNET), "return to home namespace")
    finally:
        os.close(home)


def call_in(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` on a short-lived thread inside namespace `name` (sockets made there stay in it
    and can be used from any thread); its result, or its exception re-raised here."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            with entered(name):
                outcome["value"] = fn()
        except BaseException as error:  # handed to the caller
            outcome["error"] = error

    thread = threading.Thread(target=run, name=f"netns-{name}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def open_fd(name: str) -> int:
    return os.open(path(name), os.O_RDONLY)


def _inode(p: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(p)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def pids_in(names: Sequence[str]) -> dict[str, list[int]]:
    """Processes whose network namespace is one of `names` (one scan of /proc)."""
    wanted: dict[tuple[int, int], str] = {}
    for name in names:
        key = _inode(path(name))
        if key is not None:
            wanted[key] = name
    found: dict[str, list[int]] = {name: [] for name in names}
    if not wanted:
        return found
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        key = _inode(f"/proc/{entry}/ns/net")
        if key in wanted:
            found[wanted[key]].append(int(entry))
    return found


def kill_all_in(names: Sequence[str], timeout: float = 3.0) -> int:
    """SIGKILL every process inside the namespaces; wait until they are gone. Returns the count.

    Scans again after each round: a process may have forked between the scan and its kill.
    """
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for group in pids_in(names).values() for pid in group if _alive(pid)]
        if not pids or time.monotonic() > deadline:
            return len(killed)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        pending = pids
        while pending and time.monotonic() < deadline:
            pending = [pid for pid in pending if _alive(pid)]
            if pending:
                time.sleep(0.005)


def _alive(pid: int) -> bool:
    # A zombie has already left its namespaces. (Never reap here: a caller's Popen owns its child.)
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError as error:
        return error.errno not in (errno.ENOENT, errno.ESRCH)


def popen(name: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    """Start a process inside namespace `name` (setns in the child before exec)."""
    if not exists(name):
        raise LabError(f"network namespace {name} does not exist")
    fd = open_fd(name)
    setns = _libc.setns
    user_preexec = kwargs.pop("preexec_fn", None)

    def enter_namespace() -> None:
        if setns(fd, CLONE_NEWNET) != 0:
            os._exit(126)
        if user_preexec is not None:
            user_preexec()

    # preexec_fn runs before close_fds closes the namespace fd in the child.
    try:
        return subprocess.Popen(list(argv), preexec_fn=enter_namespace, **kwargs)
    finally:
        os.close(fd)
