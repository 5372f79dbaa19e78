"""TURN allocations whose requests are paced like lab.rtc's other STUN transactions, and
relay sockets that can be dropped when the interface under them vanished.

aioice's TURN client sends Allocate, Refresh, CreatePermission and ChannelBind as STUN
transactions with a 0.5 s RTO that doubles (0.5, 1, 2, 4 s ...): one lost Allocate costs half a
second, two cost 1.5 s. Here each request is sent again every `interval`
(`IceOptions.server_query_interval`, 0.1 s by default) until it is answered or `timeout` passed:
an Allocate within one gathering round (5 s, as aioice's gathering timeout), the others for
`REFRESH_TIMEOUT_S` (about as long as aioice's seven tries). TURN over TCP or TLS, reliable
transports, is left to aioice.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from typing import Any

from aioice import Candidate, stun, turn
from aioice.candidate import candidate_foundation, candidate_priority
from aioice.ice import StunProtocol
from aioice.ice import relayed_candidate as aioice_relayed_candidate

from lab.rtc import compat
from lab.rtc.paced import PacedRequest

Address = tuple[str, int]

ALLOCATE_TIMEOUT_S = 5.0
REFRESH_TIMEOUT_S = 30.0


class PacedTurnClientUdpProtocol(turn.TurnClientUdpProtocol):
    """aioice's UDP TURN client with its requests paced (see the module docstring)."""

    lab_interval: float = 0.1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lab_binding: set[asyncio.Task[None]] = set()

    async def request(self, request: stun.Message) -> tuple[stun.Message, Address]:
        assert request.transaction_id not in self.transactions
        if self.integrity_key:
            compat.turn_add_authentication(self, request)
        timeout = ALLOCATE_TIMEOUT_S if request.message_method == stun.Method.ALLOCATE else REFRESH_TIMEOUT_S
        paced = PacedRequest(
            self, request, self.server, self.integrity_key, lambda: self.lab_interval, timeout,
            sign=False, long_term_credential=True,
        )
        return await paced.run()

    async def send_data(self, data: bytes, addr: Address) -> None:
        """To a peer address without a channel yet whose IP the server already permits (a
        channel to another port of it is bound: a remote's new, peer-reflexive port): a Send
        indication at once, its channel bound alongside for the packets after. aioice binds the
        channel first and holds the packet a server round trip (an answer to the remote's first
        check through a relay came r/2 late)."""
        channel = self.peer_to_channel.get(addr)
        if channel is None and self._lab_permits(addr[0]):
            indication = stun.Message(message_method=stun.Method.SEND, message_class=stun.Class.INDICATION)
            indication.attributes["XOR-PEER-ADDRESS"] = addr
            indication.attributes["DATA"] = data
            self.send_stun(indication, self.server)
            self.lab_bind_early(addr)
            return
        await super().send_data(data, addr)

    def _lab_permits(self, host: str) -> bool:
        return any(peer[0] == host for peer in self.peer_to_channel)

    def lab_bind_early(self, peer: Address) -> None:
        """Bind a channel to `peer` now, which installs the server's permission for its IP,
        instead of at the first send to it (aioice binds then): that send is a pair's check,
        which waits for its pacing slot, and meanwhile the remote's checks to this relay are
        dropped by the server for want of a permission (libwebrtc asks for it when the pair is
        made). A send while this is under way waits for it, as for aioice's own binding."""
        if (
            peer in self.peer_to_channel
            or peer in self.peer_connect_waiters
            or self.transport is None
            or self.transport.is_closing()
        ):
            return
        channel = self.peer_to_failed_channel.pop(peer, None)
        if channel is None:
            if self.channel_number > turn.CHANNEL_NUMBER_MAX:
                return  # left to the first send, which reports it
            channel = self.channel_number
            self.channel_number += 1
        self.peer_connect_waiters[peer] = []
        task = asyncio.ensure_future(self._lab_bind(channel, peer))
        self._lab_binding.add(task)
        task.add_done_callback(self._lab_binding.discard)

    def connection_lost(self, exc: Exception | None) -> None:
        for task in self._lab_binding:  # a closed socket's bindings would retry for nothing
            task.cancel()
        super().connection_lost(exc)

    async def _lab_bind(self, channel: int, peer: Address) -> None:
        try:
            await self.channel_bind(channel, peer)
        except Exception as exc:  # refused (e.g. a peer address the server forbids) or closed
            self.peer_to_failed_channel[peer] = channel
            for waiter in self.peer_connect_waiters.pop(peer, []):
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        self.channel_refresh_at[channel] = time.time() + self.channel_refresh_time
        self.channel_to_peer[channel] = peer
        self.peer_to_channel[peer] = channel
        for waiter in self.peer_connect_waiters.pop(peer, []):
            if not waiter.done():
                waiter.set_result(None)


async def relayed_candidate(
    *,
    component: int,
    hide_related_address: bool,
    protocol_factory: Callable[[], StunProtocol],
    turn_server: Address,
    turn_username: str | None,
    turn_password: str | None,
    turn_ssl: bool,
    turn_transport: str,
    interval: float,
) -> tuple[Candidate, StunProtocol]:
    """A relayed candidate from an allocation made with paced requests (UDP); TCP and TLS
    allocations are aioice's own."""
    if turn_transport != "udp" or turn_ssl:
        return await aioice_relayed_candidate(
            component=component, hide_related_address=hide_related_address,
            protocol_factory=protocol_factory, turn_server=turn_server, turn_username=turn_username,
            turn_password=turn_password, turn_ssl=turn_ssl, turn_transport=turn_transport,
        )
    loop = asyncio.get_running_loop()

    def make_client() -> PacedTurnClientUdpProtocol:
        client = PacedTurnClientUdpProtocol(
            turn_server, username=turn_username, password=turn_password,
            lifetime=turn.DEFAULT_ALLOCATION_LIFETIME, channel_refresh_time=turn.DEFAULT_CHANNEL_REFRESH_TIME,
        )
        client.lab_interval = interval
        return client

    inner_transport, inner = await loop.create_datagram_endpoint(make_client, remote_addr=turn_server)
    try:
        protocol = protocol_factory()
        transport = turn.TurnTransport(inner)
        await transport._connect(protocol)
    except BaseException:
        inner_transport.close()  # a cancelled gathering must not leak the socket
        raise
    relayed = transport.get_extra_info("sockname")
    related = transport.get_extra_info("related_address")
    if hide_related_address:  # RFC 9429 section 3.5.3, in RFC 8839 section 5.1's form
        related = ("0.0.0.0", 9) if ipaddress.ip_address(relayed[0]).version == 4 else ("::", 9)
    protocol.local_candidate = Candidate(
        foundation=candidate_foundation("relay", "udp", relayed[0]),
        component=component,
        transport="udp",
        priority=candidate_priority(component, "relay"),
        host=relayed[0],
        port=relayed[1],
        type="relay",
        related_address=related[0],
        related_port=related[1],
    )
    return protocol.local_candidate, protocol


def client_address(protocol: Any) -> str | None:
    """The local address a relay socket's allocation is reached from (None: not a relay)."""
    relay = getattr(protocol, "transport", None)
    if not isinstance(relay, turn.TurnTransport):
        return None
    inner = compat.turn_inner_protocol(relay).transport
    sockname = inner.get_extra_info("sockname") if inner is not None else None
    return str(sockname[0]) if sockname else None


def bind_early(protocol: Any, peer: Address) -> None:
    """A pair from this relay socket to `peer` was made: ask the server for the peer's
    permission now (`PacedTurnClientUdpProtocol.lab_bind_early`); nothing for other sockets."""
    relay = getattr(protocol, "transport", None)
    if not isinstance(relay, turn.TurnTransport):
        return
    inner = compat.turn_inner_protocol(relay)
    if isinstance(inner, PacedTurnClientUdpProtocol):
        inner.lab_bind_early(peer)


def abandon(protocol: Any) -> None:
    """Drop a relay socket's allocation without deleting it (its server or the path to it is
    gone): close the client socket now; the server frees the allocation when it expires."""
    relay = getattr(protocol, "transport", None)
    if isinstance(relay, turn.TurnTransport):
        compat.turn_abandon(relay)
