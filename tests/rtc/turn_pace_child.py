"""Child for test_turn_pacing.py: one TURN allocation made by lab.rtc's paced client inside a
lab host namespace. argv[1]: JSON {"server": [host, port], "username", "password",
"interval"}. Waits for a line on stdin, allocates, prints one JSON line: the relayed address
(null if none) and the most copies any one Allocate transaction was sent."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from typing import Any

from aioice import stun
from aioice.ice import StunProtocol

from lab.rtc import turn


async def main(settings: dict[str, Any]) -> None:
    copies: Counter[bytes] = Counter()
    send = turn.PacedTurnClientUdpProtocol.send_stun

    def counting(self: Any, message: stun.Message, addr: tuple[str, int]) -> None:
        if message.message_method == stun.Method.ALLOCATE:
            copies[message.transaction_id] += 1
        send(self, message, addr)

    turn.PacedTurnClientUdpProtocol.send_stun = counting  # type: ignore[method-assign]
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    relayed = None
    try:
        candidate, protocol = await asyncio.wait_for(turn.relayed_candidate(
            component=1, hide_related_address=False, protocol_factory=lambda: StunProtocol(None),
            turn_server=tuple(settings["server"]), turn_username=settings["username"],
            turn_password=settings["password"], turn_ssl=False, turn_transport="udp",
            interval=settings["interval"],
        ), 20)
        relayed = [candidate.host, candidate.port]
        turn.abandon(protocol)
    except (asyncio.TimeoutError, ConnectionError, stun.TransactionError) as exc:
        print(f"no allocation: {exc!r}", file=sys.stderr)
    print(json.dumps({"relay": relayed, "allocate_copies": max(copies.values(), default=0)}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
