"""Stopping a run: Ctrl-C or SIGTERM once abandons the trials under way (each tears down what
it started, as any trial does) and ends the run with its finished trials kept; a second signal
stops harder (kills what the run's trials started, now, and exits).

Trials run as asyncio tasks in threads of this process (`--jobs`) or of cluster workers; each is
registered here while it runs, so that `stop_trials` can cancel it from any thread.
After the trials, `remove_leftovers` is the run-level backstop: whatever still carries one of
the run's topology names (namespaces and their processes: agents, relays, Janus, browsers,
shapers; Docker containers; browser profiles of abandoned trials) goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar

from lab import naming

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_lock = threading.Lock()
_running: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = {}
_abandoned: set[str] = set()  # trial ids told to stop (before or while they run)
_stopping = threading.Event()  # every trial of this process is told to stop
_last_signal: list[int] = []  # the last stop signal taken in this process


def interrupted_exit_code() -> int:
    """The exit code that says which signal stopped us: 130 (SIGINT, also the default), 143 (SIGTERM)."""
    return 128 + (_last_signal[-1] if _last_signal else signal.SIGINT)


class RunInterrupted(KeyboardInterrupt):
    """The run stopped on a signal; its folder keeps every finished trial (`--resume` goes on)."""

    def __init__(self, path: Path, exit_code: int, saved: int, planned: int) -> None:
        super().__init__(f"{path}: interrupted, {saved}/{planned} trials saved")
        self.path, self.exit_code, self.saved, self.planned = path, exit_code, saved, planned


class TrialAbandoned(Exception):
    """The run was interrupted while this trial ran; it is not recorded (`--resume` runs it)."""


async def stoppable(trial_id: str, trial: Coroutine[Any, Any, T]) -> T:
    """Awaits a trial's coroutine so that stop_trials() can cancel it from another thread."""
    task = asyncio.current_task()
    assert task is not None
    with _lock:
        if _stopping.is_set() or trial_id in _abandoned:
            trial.close()
            raise TrialAbandoned(f"trial {trial_id}: the run was interrupted")
        _running[trial_id] = (asyncio.get_running_loop(), task)
    try:
        result = await trial
        if _stopping.is_set() or trial_id in _abandoned:
            # it ended during the stop: a terminal's Ctrl-C also reached its agents; not a result
            raise TrialAbandoned(f"trial {trial_id}: the run was interrupted")
        return result
    except asyncio.CancelledError:
        if _stopping.is_set() or trial_id in _abandoned:
            raise TrialAbandoned(f"trial {trial_id}: the run was interrupted") from None
        raise
    finally:
        with _lock:
            _running.pop(trial_id, None)
            _abandoned.discard(trial_id)


def stop_trials(trial_ids: Iterable[str] | None = None) -> int:
    """Cancels the running trials (None: every one of this process, and any that starts later);
    each then tears down in its own `finally`. How many were running."""
    with _lock:
        if trial_ids is None:
            _stopping.set()
            ids = list(_running)
        else:
            ids = [t for t in trial_ids]
            _abandoned.update(ids)
        targets = [_running.pop(t) for t in ids if t in _running]  # each cancelled once
    for loop, task in targets:
        with contextlib.suppress(RuntimeError):  # its loop has just closed
            loop.call_soon_threadsafe(task.cancel)
    return len(targets)


def reset() -> None:
    """A new run in this process: trials may run again."""
    with _lock:
        _stopping.clear()
        _abandoned.clear()


@dataclass(frozen=True)
class RunMark:
    """What a run's trials create carries its scope and topology names that start with `topology`;
    `pid` ran them (this process, or a local cluster's worker)."""

    scope: str
    topology: str
    pid: int

    @property
    def netns_prefix(self) -> str:
        return naming.netns_prefix(self.scope) + self.topology


def own_mark() -> RunMark:
    """This process's trials' mark (lab.experiment.runner.topology_name: x<pid>_<slot>)."""
    return RunMark(naming.scope(), f"x{os.getpid()}_", os.getpid())


def remove_leftovers(marks: Iterable[RunMark], runtime: str, trial_ids: Iterable[str] = (),
                     *, kill_runners: bool = False) -> list[str]:
    """Everything carrying one of the marks, removed: namespaces (their processes killed first),
    Docker containers, and the browser profiles of `trial_ids`. The namespaces removed.
    kill_runners (a hard stop): the other processes that run the trials (cluster workers) first."""
    from lab.net import build, netns
    from lab.runtime.chromium.browser import browser_pids

    marks = list(marks)
    for mark in marks if kill_runners else ():
        if mark.pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(mark.pid, signal.SIGKILL)
    names = [n for n in netns.list_names() if any(n.startswith(m.netns_prefix) for m in marks)]
    build.teardown(names)
    if runtime == "docker":
        _remove_containers(marks)
    ids = list(trial_ids)
    root = naming.state_dir().parent if naming.scope() else naming.state_dir()
    for mark in marks:
        base = root / mark.scope if mark.scope else root
        for browser in ("chromium", "firefox"):
            for profile in (base / browser).glob("*") if ids else ():
                if any(profile.name.startswith(f"{t}-") for t in ids):
                    for pid in browser_pids(str(profile)):
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(pid, signal.SIGKILL)
                    shutil.rmtree(profile, ignore_errors=True)
    return names


def _remove_containers(marks: list[RunMark]) -> None:
    from lab.runtime.docker import engine
    from lab.runtime.docker.containers import TOPOLOGY_LABEL, client, remove_containers

    if not engine.available():
        return
    found = client().containers.list(all=True, filters={"label": naming.DOCKER_LABEL})
    remove_containers([str(c.id) for c in found
                       if any(c.labels.get(naming.DOCKER_LABEL) == m.scope
                              and c.labels.get(TOPOLOGY_LABEL, "").startswith(m.topology) for m in marks)])


class StopOnSignals:
    """While a run goes on (in the main thread): SIGINT and SIGTERM both stop the trials and
    raise KeyboardInterrupt in the main thread; a second one calls `hard_stop` and exits at once.
    Elsewhere (a thread, e.g. a notebook's worker) it does nothing."""

    def __init__(self, hard_stop: Callable[[], object] = lambda: None,
                 stopping: str = "stopping the run (the trials under way are abandoned; again to stop harder)") -> None:
        self.hard_stop = hard_stop
        self.stopping = stopping
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        self._owner = os.getpid()

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    def __enter__(self) -> StopOnSignals:
        reset()
        self._owner = os.getpid()
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._owner:
            # a child forked from the run (pyroute2 forks one to open a socket in a namespace,
            # then stops it with SIGTERM and waits): it inherited this handler and must die as
            # a plain process would, or its parent waits forever
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if self.signum is None:
            self.signum = signum
            _last_signal.append(signum)
            stop_trials()
            print(f"\nicelab: {signal.Signals(signum).name}: {self.stopping}", file=sys.stderr, flush=True)
            raise KeyboardInterrupt
        print(f"\nicelab: {signal.Signals(signum).name} again: killing what the run started",
              file=sys.stderr, flush=True)
        for sig in SIGNALS:  # a third one while we clean must not leave things half-removed
            signal.signal(sig, signal.SIG_IGN)
        try:
            self.hard_stop()
        finally:
            os._exit(self.exit_code)
