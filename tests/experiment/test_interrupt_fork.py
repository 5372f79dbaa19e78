"""A process forked while a run's signal handler is installed (pyroute2 forks one to open a
socket in a namespace, stops it with SIGTERM and waits for it) dies of SIGTERM as a plain
process does: it must not take the run's stop path, or its parent waits forever."""

from __future__ import annotations

import os
import signal
import time

from lab.experiment.interrupt import StopOnSignals


def test_a_forked_child_dies_of_sigterm_under_the_run_handler() -> None:
    with StopOnSignals():
        pid = os.fork()
        if pid == 0:  # the child: sleeps until a signal ends it; any Python-level exit is a 0
            try:
                time.sleep(30)
            finally:
                os._exit(0)
        time.sleep(0.3)
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("the forked child outlived its SIGTERM")
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status
