"""The Runtime interface: where a trial's peer agents and relays run (namespaces, containers).

A runtime starts one agent per peer host and hands back an AgentProcess: a live stream of the
agent's JSON events (its stdout) and a command pipe (its stdin). Neither crosses the lab network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lab.contract import AgentConfig, Command, Stop

if TYPE_CHECKING:
    from lab.net.network import Network
    from lab.sfu.janus import Janus
    from lab.sfu.spec import SfuSpec
    from lab.turn.relay import Relay

EventCallback = Callable[[dict[str, Any]], None]


class Runtime(Protocol):
    """Where one trial's peers and relays run, made by its RuntimeKind's prepare(): it owns what
    differs between runtimes (containers to attach, where relays and agents are exec'd)."""

    name: str

    def start_relays(self, out_dir: Path) -> list[Relay]:
        """The topology's lab.turn relays (every relay host's), started; all or none."""
        ...

    def start_agent(self, config: AgentConfig, log_path: Path, on_event: EventCallback) -> AgentProcess:
        """Start the peer agent for config.host; events are passed to on_event as they arrive."""
        ...

    def attach_sfu(self, spec: SfuSpec, out_dir: Path, file: str | Path | None = None) -> Janus:
        """lab.sfu's Janus for the SFU host, where this runtime runs it; not started yet."""
        ...

    def close(self) -> None:
        """Undo prepare() (idempotent); the topology itself is the caller's."""
        ...


class RuntimeKind(Protocol):
    """A runtime class: checked once per run, prepared once per trial on its running topology."""

    name: str

    @staticmethod
    def preflight() -> None:
        """Before a run's first trial: fail cleanly if this runtime cannot run here."""
        ...

    @classmethod
    def prepare(cls, net: Network, out_dir: Path, peers: list[str]) -> Runtime:
        """After the topology is up, before anything runs on it (on the thread that owns `net`)."""
        ...

    @staticmethod
    def peer_kind_missing(kind: str) -> str | None:
        """Before a run creates anything: why a peer of this kind (lab.runtime.kinds) cannot run
        where this runtime puts peers, or None."""
        ...


class AgentProcess:
    """A running agent: reads its event lines on the event loop, writes its commands."""

    def __init__(self, role: str, process: subprocess.Popen[bytes], on_event: EventCallback,
                 log_file: Any = None) -> None:
        self.role = role
        self.process = process
        self._on_event = on_event
        self._log_file = log_file
        self._reader: asyncio.Task[None] | None = None
        self.exited = asyncio.Event()
        self.last_event_t = time.monotonic()
        self.bad_lines = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    async def attach(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 22)
        assert self.process.stdout is not None
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), self.process.stdout)
        self._reader = loop.create_task(self._read(reader), name=f"agent-{self.role}")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    self.bad_lines += 1
                    continue
                self.last_event_t = time.monotonic()
                self._on_event(record)
        finally:
            self.exited.set()

    def send(self, command: Command) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.closed or self.process.poll() is not None:
            return
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            stdin.write((json.dumps(command.to_wire(), separators=(",", ":")) + "\n").encode())
            stdin.flush()

    async def stop(self, timeout: float = 5.0) -> int | None:
        """Ask the agent to stop, wait, then kill it; always reaps the process."""
        self.send(Stop())
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.process.poll() is None:
            self.process.kill()
        code = await asyncio.get_running_loop().run_in_executor(None, self.process.wait)
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self.exited.wait(), 2.0)
            self._reader.cancel()
        if self.process.stdout is not None:
            with contextlib.suppress(Exception):
                self.process.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
