"""Entry point of the peer agent (see lab.runtime.agent)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys

from lab.contract import AgentConfig, Start, Stop
from lab.runtime.agent import rtc
from lab.runtime.agent.control import ControlChannel
from lab.runtime.agent.session import PeerSession


def session_class(config: AgentConfig | None = None) -> type[PeerSession]:
    """lab.rtc's session, or the plain-aiortc baseline's (ICELAB_AGENT_PLAIN_AIORTC=1), or a leg
    through a Janus SFU (config.sfu)."""
    if config is not None and config.sfu is not None:
        from lab.runtime.agent.janus_session import JanusLegSession

        return JanusLegSession
    if rtc.plain_baseline():
        from lab.runtime.agent.plain import PlainAiortcSession

        return PlainAiortcSession
    return PeerSession


async def serve(config: AgentConfig, control: ControlChannel) -> int:
    session = session_class(config)(config, control)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: logging.getLogger("lab.agent").warning(
        "unhandled: %s", ctx.get("exception") or ctx.get("message")))
    try:
        commands = control.commands()
        if config.wait_for_start:
            # the process is started (and has imported everything) while the orchestrator
            # still brings up relays and signaling; it begins when told
            control.emit("agent_loaded", pid=os.getpid())
            async for command in commands:
                if isinstance(command, Start):
                    break
                if isinstance(command, Stop):
                    return 0
        await session.start()
        async for command in commands:
            if not await session.command(command):
                break
    except Exception as exc:
        logging.getLogger("lab.agent").exception("agent failed")
        control.emit("error", message=f"{type(exc).__name__}: {exc}", fatal=True)
        return 1
    finally:
        await session.stop()
        control.emit("agent_exit")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("aioice").setLevel(logging.WARNING)
    logging.getLogger("aiortc").setLevel(logging.WARNING)
    control = ControlChannel()
    with contextlib.suppress(OSError):
        # timestamps are the measurement: let a loaded machine schedule the (light) agent first
        os.nice(-10)
    config = AgentConfig.model_validate_json(args[0])
    return asyncio.run(serve(config, control))


if __name__ == "__main__":
    sys.exit(main())
