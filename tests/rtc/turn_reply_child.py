"""Child for test_turn_permission.py: a TURN allocation (lab.rtc's paced client) with a
permission for the peer's IP (bind_early to another port). argv[1]: JSON {"server",
"username", "password", "peer_ip"}. Prints {"relay": [host, port]}, then on the peer's first
datagram replies to its address (a new port: no channel yet) while every ChannelBind is held
unanswered; prints {"replied": bool}: the reply left without waiting for its channel."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aioice.ice import StunProtocol
from turn_permission_child import allocate  # the sibling script: this folder is sys.path[0]

from lab.rtc import compat, turn


class FirstDatagram(StunProtocol):
    def __init__(self) -> None:
        super().__init__(None)
        self.first: asyncio.Future[tuple[Any, ...]] = asyncio.get_event_loop().create_future()

    def datagram_received(self, data: bytes | str, addr: tuple[Any, ...]) -> None:
        if not self.first.done():
            self.first.set_result(addr)


async def main(settings: dict[str, Any]) -> None:
    receiver = FirstDatagram()
    candidate, protocol = await allocate(settings, receiver)
    turn.bind_early(protocol, (settings["peer_ip"], 9))
    print(json.dumps({"relay": [candidate.host, candidate.port]}), flush=True)
    addr = await asyncio.wait_for(receiver.first, 10)
    inner = compat.turn_inner_protocol(protocol.transport)

    async def never(channel: int, peer: Any) -> None:
        await asyncio.Event().wait()

    inner.channel_bind = never
    try:
        await asyncio.wait_for(inner.send_data(b"reply", (addr[0], addr[1])), 2.0)
        replied = True
    except asyncio.TimeoutError:
        replied = False
    print(json.dumps({"replied": replied}), flush=True)
    await asyncio.sleep(1.0)
    turn.abandon(protocol)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
