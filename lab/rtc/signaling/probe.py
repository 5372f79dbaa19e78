"""A signaling peer on stdin/stdout, to run inside a lab host and watch the session from outside.

    python -m lab.rtc.signaling.probe --url ws://198.51.100.4:8765 --room r --peer alice

Each stdin line is a JSON object to send. Stdout gets one JSON object per line: {"event":
"message", "body": ...} for each delivered message and {"event": "signaling", "state": ...} for
connection changes. EOF on stdin or SIGTERM closes the session (leaving the room).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any

from lab.rtc.signaling.client import SignalingClient, SignalingClientConfig
from lab.rtc.signaling.impairments import SignalingImpairments


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


async def _run(config: SignalingClientConfig) -> None:
    client = SignalingClient(config)
    client.on("message", lambda body: _emit({"event": "message", "body": body}))
    client.on("state", _emit)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def pump() -> None:
        while line := await reader.readline():
            if line.strip():
                client.send(json.loads(line))
        stop.set()

    await client.start()
    pumping = loop.create_task(pump())
    await stop.wait()
    pumping.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pumping
    await client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.rtc.signaling.probe", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--impairments", default="{}", help="SignalingImpairments as JSON")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    try:
        config = SignalingClientConfig(
            url=args.url, room=args.room, peer=args.peer,
            impairments=SignalingImpairments.model_validate_json(args.impairments),
        )
    except ValueError as exc:
        parser.error(str(exc))
    asyncio.run(_run(config))


if __name__ == "__main__":
    main()
