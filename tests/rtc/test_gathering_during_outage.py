"""A restart generation gathered during an outage must not be described by host candidates only.

Seen in notebooks/sample_run (on-disconnected-rtt100-loss0-r0): alice restarted ICE 0.3 s into a
4 s blackhole of her NAT uplink; every STUN/TURN query of the new generation was lost (aioice's
retransmissions at 0, 0.5, 1.5 and 3.5 s, then its 5 s gathering timeout), so the restart offer
sent after the outage named a host candidate only. Behind port-restricted NATs on both sides no
pair of that generation can ever succeed: it checked until the trial ended, media stayed on
generation 0, and no cut-over was ever seen. The STUN server here is a small in-process
responder on loopback (no NAT runs in-process) that drops every request during its "outage".
"""

from __future__ import annotations

import asyncio
from typing import Any

from aioice import stun
from aiortc import RTCConfiguration, RTCIceServer

from lab.rtc import IceOptions, RTCPeerConnection

from .peers import FAST, LOOPBACK, start_call, wait_for

# longer than aioice's last STUN retransmission (3.5 s) into a gathering
OUTAGE_S = 4.0


class StunResponder(asyncio.DatagramProtocol):
    """Answers STUN binding requests with the sender's address, unless in an outage."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.outage = False
        self.answered = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.outage:
            return
        try:
            request = stun.parse_message(data)
        except ValueError:
            return
        if request.message_method != stun.Method.BINDING or request.message_class != stun.Class.REQUEST:
            return
        response = stun.Message(
            message_method=stun.Method.BINDING,
            message_class=stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = (addr[0], addr[1])
        self.transport.sendto(bytes(response), addr)
        self.answered += 1


def peer(port: int, trickle: bool = False) -> RTCPeerConnection:
    # without trickle, a description waits for gathering: the case this file is about
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[RTCIceServer(urls=f"stun:127.0.0.1:{port}")]),
        detection=FAST,
        ice=IceOptions(host_addresses=LOOPBACK, use_ipv6=False, trickle=trickle),
    )


def candidate_types(sdp: str) -> set[str]:
    return {line.split(" typ ")[1].split()[0] for line in sdp.splitlines() if " typ " in line}


async def test_restart_offer_gathered_during_a_stun_outage_still_carries_a_server_reflexive_candidate() -> None:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(StunResponder, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    call = await start_call(peer(port), peer(port))
    try:
        assert "srflx" in candidate_types(call.a.localDescription.sdp)
        server.outage = True
        call.a.restartIce()
        offering = asyncio.ensure_future(call.a.setLocalDescription())
        await asyncio.sleep(OUTAGE_S)
        server.outage = False
        await asyncio.wait_for(offering, 30)
        types = candidate_types(call.a.localDescription.sdp)
        assert "srflx" in types, f"restart offer gathered during the outage names only {types}"
        await call.b.setRemoteDescription(call.a.localDescription)
        await call.b.setLocalDescription()
        await call.a.setRemoteDescription(call.b.localDescription)
        ice = call.transport(call.a)
        await wait_for(lambda: ice.activeGeneration.number > 0, 20, "a cut over to the restart generation")
    finally:
        await call.close()
        transport.close()
