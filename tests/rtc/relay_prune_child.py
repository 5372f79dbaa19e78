"""Child for test_turn_pacing.py's pruning test: lab.rtc's ICE agent in a lab host namespace
gathers host and relay candidates, then is told that its address is gone. Prints one JSON line:
the candidate types before and after, and whether the relay's client socket was closed.
argv[1]: JSON {"server": [host, port], "username", "password", "address"}."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from lab.rtc import compat, turn
from lab.rtc.ice_connection import LabIceConnection


async def main(settings: dict[str, Any]) -> None:
    connection = LabIceConnection(
        generation=0, host_addresses=(settings["address"],), consent_interval=1.0, ice_controlling=True,
        turn_server=tuple(settings["server"]), turn_username=settings["username"],
        turn_password=settings["password"],
    )
    await connection.gather_candidates()
    before = sorted(c.type for c in connection.local_candidates)
    relays = [p for p in connection.lab_protocols if p.local_candidate.type == "relay"]
    connection.lab_prune_addresses({"192.0.2.99"})  # the host's address vanished
    after = sorted(c.type for c in connection.local_candidates)
    closed = all(compat.turn_inner_protocol(p.transport).transport.is_closing() for p in relays)
    left = [p for p in connection.lab_protocols if turn.client_address(p) is not None]
    print(json.dumps({"before": before, "after": after, "relay_closed": bool(relays) and closed,
                      "relay_sockets_left": len(left)}), flush=True)
    await connection.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
