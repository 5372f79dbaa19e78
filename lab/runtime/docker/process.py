"""A program exec'd into a lab container, as a subprocess.Popen of the `docker exec` client.

Its pipes are the client's (they carry the program's stdin/stdout/stderr), and it ends when
the program ends; but a signal sent to the client would not reach the program (SIGKILL
certainly not), so send_signal/kill/terminate go to the program itself, by its host pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from typing import Any

from lab.runtime.docker.containers import LabContainer
from lab.runtime.docker.engine import cli_path

# Inside the container: note the program's pid (in the container's pid namespace), then become it.
_NOTE_PID = 'echo $$ > "$0"; exec "$@"'
PID_WAIT_S = 5.0


def _pid_namespace(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


def host_pid(container_pid: int, inner_pid: int) -> int | None:
    """The host pid of the process that is `inner_pid` in the container's pid namespace."""
    wanted = _pid_namespace(container_pid)
    if wanted is None:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or _pid_namespace(int(entry)) != wanted:
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                for line in status:
                    if line.startswith("NSpid:"):
                        if int(line.split()[-1]) == inner_pid:
                            return int(entry)
                        break
        except (OSError, ValueError):
            continue
    return None


class ContainerProcess(subprocess.Popen):  # type: ignore[type-arg]
    def __init__(self, container: LabContainer, argv: Sequence[str], env: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        self.container = container
        self._pid_file = f"/tmp/.icelab-exec-{uuid.uuid4().hex}"
        self._program_pid: int | None = None
        command = [cli_path(), "exec"]
        if kwargs.get("stdin") == subprocess.PIPE:
            command.append("--interactive")
        for key, value in (env or {}).items():
            command += ["--env", f"{key}={value}"]
        command += [container.name, "sh", "-c", _NOTE_PID, self._pid_file, *argv]
        super().__init__(command, **kwargs)

    def program_pid(self, wait_s: float = PID_WAIT_S) -> int | None:
        """Host pid of the program in the container (None once it has ended)."""
        if self._program_pid is not None:
            return self._program_pid
        note = f"/proc/{self.container.pid}/root{self._pid_file}"
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                with open(note) as file:
                    inner = int(file.read().strip())
            except (OSError, ValueError):
                inner = None
            if inner is not None:
                self._program_pid = host_pid(self.container.pid, inner)
                if self._program_pid is not None:
                    return self._program_pid
            if self.poll() is not None:
                return None
            time.sleep(0.01)
        return None

    def send_signal(self, sig: int) -> None:
        if self.poll() is not None:
            return
        pid = self.program_pid()
        if pid is None:
            super().send_signal(sig)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
