"""One thread runs every netlink and namespace operation of the lab.

pyroute2's synchronous API drives its own asyncio loop and fails inside a thread whose loop is
running (the orchestrator's). Funnelling the work through one dedicated thread makes the lab's
calls safe from coroutines, from asyncio.to_thread and from plain threads alike, and keeps each
pyroute2 socket on the thread that created it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_thread_ident: int | None = None


def _mark() -> None:
    global _thread_ident
    _thread_ident = threading.get_ident()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="icelab-net", initializer=_mark)
        return _executor


def on_lab_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` on the lab's network thread (directly if already there) and return its result."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if threading.get_ident() == _thread_ident:
            return fn(*args, **kwargs)
        return _pool().submit(fn, *args, **kwargs).result()

    return wrapper
