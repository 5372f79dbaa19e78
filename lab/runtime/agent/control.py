"""The agent's control channel: JSON lines on the process's own stdin/stdout pipes.

The pipes are inherited from the orchestrator (through the runtime's popen), so this channel
never crosses the lab network: faults cannot touch it. Events go out as
{"t": time.monotonic(), "kind": ..., ...} with a kind of lab.contract's `EventKind` (anything else
is refused); commands come in as {"cmd": ..., ...} and are handed
out as lab.contract commands (a line that is none is logged and skipped).
stdout is reserved for events: anything else printing to it is redirected to stderr (the log).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from lab.contract import Command, EventKind, Stop, event_line, parse_command

log = logging.getLogger("lab.agent.control")


class ControlChannel:
    def __init__(self) -> None:
        self._out_fd = os.dup(sys.stdout.fileno())
        # stray prints from libraries must not corrupt the event stream
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        self.closed = False

    def emit(self, kind: EventKind, t: float | None = None, **fields: Any) -> None:
        if self.closed:
            return
        line = event_line(kind, time.monotonic() if t is None else t, fields)
        try:
            os.write(self._out_fd, line)
        except (BrokenPipeError, OSError):
            self.closed = True  # the orchestrator is gone; the agent will be told to stop or killed

    async def commands(self) -> AsyncIterator[Command]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 22)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                yield Stop(reason="control channel closed")
                return
            line = line.strip()
            if not line:
                continue
            try:
                yield parse_command(json.loads(line))
            except ValueError as error:  # both json and pydantic raise ValueErrors
                log.warning("ignored a line that is no command: %r (%s)", line[:200], error)
