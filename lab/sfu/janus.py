"""Control of one Janus SFU running inside a lab network namespace, shaped like lab.turn's Relay.

    janus = Janus(spec, name="sfu", iface="eth0", netns_name="icelab-...-sfu", popen=..., ...)
    janus.start()      # returns once the Janus API answers an `info` request over its WebSocket
    janus.url          # ws://<lab address>:<port> (subprotocol janus-protocol), for the peers
    janus.kill()       # kill -9: every session, handle and PeerConnection of Janus vanishes
    janus.restart()    # a new process: the old sessions are not brought back
    janus.close()      # idempotent: nothing left running

The process lives in the SFU host's namespace, so `icelab clean` kills it with the namespace's
other processes even after the orchestrator died.
"""

from __future__ import annotations

import errno
import json
import secrets
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.errors import ConfigError, LabError
from lab.server_process import RunningProcess, ServerProcess
from lab.sfu.render import SfuFiles, TurnServer, render_configs
from lab.sfu.spec import SfuSpec

JANUS = "janus"
SUBPROTOCOL = "janus-protocol"
PopenInHost = Callable[[list[str], dict[str, Any]], "subprocess.Popen[bytes]"]
# a socket inside the SFU host's namespace (for the readiness probe and the bind check)
SocketInHost = Callable[[int], socket.socket]


class JanusError(LabError):
    """Janus did not start, or died; the message carries the tail of its log."""


class Janus(ServerProcess):
    restart_timeout = 20.0

    def __init__(self, spec: SfuSpec, *, name: str, iface: str, state_dir: Path, out_dir: Path,
                 popen: PopenInHost, socket_in_host: SocketInHost, turn: TurnServer | None = None) -> None:
        if spec.host is None or spec.address is None:
            raise ConfigError(None, "sfu.address", "SFU host and address not resolved")
        self.spec = spec
        self.name = name
        self.files = SfuFiles(configs=Path(state_dir), log=Path(out_dir) / f"sfu-{name}.log")
        self._popen = popen
        self._socket = socket_in_host
        self._running: RunningProcess | None = None
        self.configs = render_configs(spec, name, iface, self.files, turn)
        self.version: str | None = None  # Janus's version string, from its `info` answer

    @property
    def url(self) -> str:
        return f"ws://{self.spec.address}:{self.spec.ws_port}"

    # --- process control ------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> float:
        """Start Janus; return seconds until its API answered `info`."""
        if self.running:
            raise JanusError(f"Janus {self.name} is already running (pid {self.pid})")
        self._check_bindable()
        self.files.configs.mkdir(parents=True, exist_ok=True)
        self.files.log.parent.mkdir(parents=True, exist_ok=True)
        for file_name, text in self.configs.items():
            (self.files.configs / file_name).write_text(text)
        argv = [JANUS, "-C", str(self.files.core), "-F", str(self.files.configs), "--disable-colors",
                "--interface", str(self.spec.address)]
        with open(self.files.log, "ab") as console:
            console.write(f"--- icelab: starting Janus {self.name} on {self.spec.host} ---\n".encode())
            console.flush()
            began = time.monotonic()
            try:
                process = self._popen(argv, {"stdin": subprocess.DEVNULL, "stdout": console,
                                             "stderr": subprocess.STDOUT, "start_new_session": True})
            except FileNotFoundError as error:
                raise JanusError(f"cannot start Janus {self.name}: {error} "
                                 "(install Debian's janus: scripts/setup-debian.sh)") from None
        self._running = RunningProcess(process, began)
        try:
            self._wait_ready(began + timeout)
        except BaseException:
            self.kill()
            raise
        return time.monotonic() - began

    def _check_bindable(self) -> None:
        """The API address is the host's and its port free: else one ConfigError (Janus itself
        would start without its transport and never answer)."""
        with self._socket(socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((str(self.spec.address), self.spec.ws_port))
            except OSError as error:
                key = "address" if error.errno == errno.EADDRNOTAVAIL else "ws_port"
                raise ConfigError(None, f"sfu.{key}", f"cannot listen on {self.spec.address}:"
                                  f"{self.spec.ws_port} on host {self.spec.host} ({error.strerror})") from None

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if not self.running:
                raise JanusError(f"Janus {self.name} exited (code {self._exit_code()}); "
                                 f"log {self.files.log}:\n{self.log_tail()}")
            info = self.info(timeout=1.0)
            if info is not None:
                self.version = str(info.get("version_string", info.get("version", "?")))
                return
            time.sleep(0.05)
        raise JanusError(f"Janus {self.name} did not answer on {self.url} in time; "
                         f"log {self.files.log}:\n{self.log_tail()}")

    def info(self, timeout: float = 2.0) -> dict[str, Any] | None:
        """Janus's `info` answer over its WebSocket API from inside the lab, or None."""
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect
        from websockets.typing import Subprotocol

        try:
            sock = self._socket(socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect((str(self.spec.address), self.spec.ws_port))
        except OSError:
            sock.close()
            return None
        try:
            with connect(self.url, sock=sock, subprotocols=[Subprotocol(SUBPROTOCOL)],
                         open_timeout=timeout, close_timeout=0.2) as ws:
                transaction = secrets.token_hex(6)
                ws.send(json.dumps({"janus": "info", "transaction": transaction}))
                answer = json.loads(ws.recv(timeout))
        except (OSError, TimeoutError, WebSocketException, ValueError):
            return None
        finally:
            sock.close()
        if answer.get("janus") != "server_info":
            return None
        result: dict[str, Any] = answer
        return result

    def _exit_code(self) -> int | None:
        return self._running.process.poll() if self._running is not None else None

    # --- inspection and clean-up --------------------------------------------------------------

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.files.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        self.kill()

    def __enter__(self) -> Janus:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"Janus({self.name}@{self.spec.address}:{self.spec.ws_port} on {self.spec.host}, {state})"


def janus_version() -> str | None:
    """The installed Janus's version (`janus --help` prints it first), or None."""
    try:
        done = subprocess.run([JANUS, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith("Janus version:"):
            return line.split(":", 1)[1].strip()
    return None


def janus_pids(namespaces: list[str]) -> list[int]:
    """pids of Janus processes whose network namespace is one of `namespaces`."""
    from lab.net import netns

    found = []
    for pids in netns.pids_in(namespaces).values():
        for pid in pids:
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == JANUS:
                    found.append(pid)
            except OSError:
                continue
    return found
