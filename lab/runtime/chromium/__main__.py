"""Entry point of the browser peer agent (see lab.runtime.chromium)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from lab.contract import AgentConfig, Command, Start, Stop
from lab.runtime.agent.control import ControlChannel
from lab.runtime.chromium.peer import BrowserPeer


async def _pump(commands: Any, queue: asyncio.Queue[Command]) -> None:
    async for command in commands:
        await queue.put(command)


async def _next_command(queue: asyncio.Queue[Command], peer: BrowserPeer, stop: asyncio.Event) -> Command:
    """The next command, or a stop when the browser died or SIGTERM arrived."""
    command = asyncio.ensure_future(queue.get())
    failed = asyncio.ensure_future(peer.failed.wait())
    done, pending = await asyncio.wait([command, failed, asyncio.ensure_future(stop.wait())],
                                       return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if command in done:
        return command.result()
    if failed in done:
        raise RuntimeError(f"browser: {peer.failure}")
    return Stop(reason="SIGTERM")


async def serve(config: AgentConfig, control: ControlChannel,
                peer_class: type[BrowserPeer] = BrowserPeer) -> int:
    peer = peer_class(config, control)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    commands: asyncio.Queue[Command] = asyncio.Queue()
    # commands are read from the start: a "start" or "stop" may arrive while the browser loads
    pump = loop.create_task(_pump(control.commands(), commands))
    try:
        await peer.load()
        if config.wait_for_start:
            control.emit("agent_loaded", pid=os.getpid())
            while not isinstance(command := await _next_command(commands, peer, stop), Start):
                if isinstance(command, Stop):
                    return 0
        await peer.start()
        while await peer.command(await _next_command(commands, peer, stop)):
            pass
    except Exception as exc:
        logging.getLogger("lab.chromium").exception("browser agent failed")
        control.emit("error", message=f"{type(exc).__name__}: {exc}", fatal=True)
        return 1
    finally:
        pump.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(peer.stop(), 5.0)
        if peer.browser is not None:  # stop() timed out: never leave the browser behind
            from lab.runtime.chromium.browser import sweep

            sweep(peer.browser.profile)
        control.emit("agent_exit")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    control = ControlChannel()
    config = AgentConfig.model_validate_json(args[0])
    return asyncio.run(serve(config, control))


if __name__ == "__main__":
    sys.exit(main())
