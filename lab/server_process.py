"""A lab server that runs as one child process (coturn's relay, Janus): whether it runs, its
pid, a graceful stop, kill -9 and restart. Each server says how it starts and when it is ready."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass


@dataclass
class RunningProcess:
    process: subprocess.Popen[bytes]
    started_at: float


class ServerProcess:
    restart_timeout: float = 15.0  # seconds a restarted server has to become ready
    _running: RunningProcess | None = None

    def start(self, timeout: float) -> float:
        """Start the server; seconds until it answered."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._running is not None and self._running.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._running.process.pid if self.running and self._running else None

    def stop(self, timeout: float = 5.0) -> None:
        """Graceful stop (SIGTERM: the server may tell its clients), SIGKILL after `timeout`."""
        self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """kill -9: the server's state (allocations, sessions) vanishes without a word to its clients."""
        self._signal_and_wait(signal.SIGKILL, 5.0)

    def restart(self, graceful: bool = False, timeout: float | None = None) -> float:
        """A new process (the old one's state is lost); seconds until it answers."""
        if graceful:
            self.stop()
        else:
            self.kill()
        return self.start(self.restart_timeout if timeout is None else timeout)

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> None:
        if self._running is None:
            return
        process = self._running.process
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5.0)
        self._running = None
