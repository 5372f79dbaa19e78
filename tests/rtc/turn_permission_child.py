"""Child for test_turn_permission.py: one TURN allocation made by lab.rtc's paced client inside
a lab host namespace. argv[1]: JSON {"server": [host, port], "username", "password", "peer_ip",
"bind_early": bool}. Prints {"relay": [host, port]} once allocated (after asking for the peer's
permission if bind_early, without sending it anything), then listens for 4 s and prints
{"received": <datagrams the relay passed on from the peer>}."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aioice.ice import StunProtocol

from lab.rtc import turn


class Counting(StunProtocol):
    def __init__(self) -> None:
        super().__init__(None)
        self.received = 0

    def datagram_received(self, data: bytes | str, addr: tuple[Any, ...]) -> None:
        self.received += 1


async def allocate(settings: dict[str, Any], receiver: StunProtocol) -> tuple[Any, Any]:
    """An allocation on settings' server through lab.rtc's paced client; `receiver` gets what
    arrives through the relay. Its candidate and protocol."""
    return await asyncio.wait_for(turn.relayed_candidate(
        component=1, hide_related_address=False, protocol_factory=lambda: receiver,
        turn_server=tuple(settings["server"]), turn_username=settings["username"],
        turn_password=settings["password"], turn_ssl=False, turn_transport="udp", interval=0.05,
    ), 20)


async def main(settings: dict[str, Any]) -> None:
    counting = Counting()
    _candidate, protocol = await allocate(settings, counting)
    if settings["bind_early"]:
        turn.bind_early(protocol, (settings["peer_ip"], 9))
    print(json.dumps({"relay": [_candidate.host, _candidate.port]}), flush=True)
    await asyncio.sleep(4.0)
    print(json.dumps({"received": counting.received}), flush=True)
    turn.abandon(protocol)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
