"""One ICE generation's agent: an aioice Connection that never closes itself.

Differences from aioice's Connection (0.13.0):
- consent checks run at a configurable interval (a quarter of it after a missed answer) and
  only record when consent last succeeded;
  expiry never closes the connection (the transport above turns silence into states);
- every datagram is tapped: it stamps liveness, counts bytes per (socket, remote address) and
  hands DTLS/SRTP datagrams straight to a sink, so several generations feed one receive queue;
- host candidates can be gathered on given addresses (aioice always skips 127.0.0.1);
- when every STUN/TURN query of a gathering timed out (a generation gathered during an outage),
  the queries are repeated for a while: behind a NAT, host candidates alone reach nobody.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aioice import Connection, TransportPolicy, stun
from aioice.ice import StunProtocol, relayed_candidate, server_reflexive_candidate
from aioice.turn import TurnTransport

Address = tuple[str, int]
PairKey = tuple[int, Address]
DatagramSink = Callable[["LabIceConnection", "StunProtocol | None", "Address | None", bytes], None]


@dataclass
class PairTraffic:
    bytes_sent: int = 0
    bytes_received: int = 0
    packets_sent: int = 0
    packets_received: int = 0
    last_received: float | None = None


def is_dtls_or_srtp(data: bytes) -> bool:
    """RFC 7983 demultiplexing: 20-63 DTLS, 128-191 RTP/RTCP; STUN starts with 0 or 1."""
    first = data[0] if data else 0
    return 20 <= first < 64 or 128 <= first < 192


class LabIceConnection(Connection):
    def __init__(
        self,
        *,
        generation: int,
        host_addresses: tuple[str, ...] | None,
        consent_interval: float,
        server_candidates_retry: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lab_generation = generation
        self.lab_sink: DatagramSink | None = None
        self.lab_last_inbound: float | None = None
        self.lab_last_consent: float | None = None
        self.lab_consent_enabled = True
        self.lab_traffic: dict[PairKey, PairTraffic] = {}
        self.lab_nominated = asyncio.Event()
        self._lab_host_addresses = host_addresses
        self._lab_consent_interval = consent_interval
        self._lab_server_candidates_retry = server_candidates_retry

    # gathering

    async def gather_candidates(self) -> None:
        if self._local_candidates_start:
            return
        if self._lab_host_addresses is None:
            await super().gather_candidates()
        else:
            self._local_candidates_start = True
            addresses: list[str] = []
            if self._transport_policy == TransportPolicy.ALL:
                addresses = list(self._lab_host_addresses)
            for component in sorted(self._components):
                self._local_candidates += await self.get_component_candidates(
                    component=component, addresses=addresses
                )
            self._local_candidates_end = True
        await self._lab_retry_server_candidates()
        self._lab_tap_protocols()

    def _lab_has_server_candidates(self) -> bool:
        return any(c.type in ("srflx", "relay") for c in self._local_candidates)

    async def _lab_retry_server_candidates(self) -> None:
        """Query the STUN/TURN servers again, in rounds, while no query has answered yet."""
        if not (self.stun_server or self.turn_server) or self._lab_has_server_candidates():
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lab_server_candidates_retry
        while not self._lab_has_server_candidates():
            left = deadline - loop.time()
            if left <= 0 or self._closing:
                return
            tasks: list[asyncio.Task[Any]] = []
            if self.stun_server:
                for protocol in list(self._protocols):
                    local = getattr(protocol, "local_candidate", None)
                    if local is not None and local.type == "host" and ":" not in local.host:
                        tasks.append(asyncio.ensure_future(
                            server_reflexive_candidate(protocol, self.stun_server)))
            if self.turn_server:
                for component in sorted(self._components):
                    tasks.append(asyncio.ensure_future(relayed_candidate(
                        component=component,
                        hide_related_address=self._transport_policy == TransportPolicy.RELAY,
                        protocol_factory=lambda: StunProtocol(self),
                        turn_server=self.turn_server,
                        turn_username=self.turn_username,
                        turn_password=self.turn_password,
                        turn_ssl=self.turn_ssl,
                        turn_transport=self.turn_transport,
                    )))
            if not tasks:
                return
            done, pending = await asyncio.wait(tasks, timeout=min(5.0, left))
            for task in pending:
                task.cancel()
            for task in done:
                if task.exception() is None:
                    candidate, relay_protocol = task.result()
                    if self._closing:  # closed meanwhile: keep no new socket open
                        if relay_protocol is not None:
                            await relay_protocol.close()
                        continue
                    self._local_candidates.append(candidate)
                    if relay_protocol is not None:
                        self._protocols.append(relay_protocol)
            if not pending:
                # every query failed at once (unresolvable or unreachable server): not an outage
                # that may end soon, so no more rounds
                return

    def _lab_tap_protocols(self) -> None:
        for protocol in self._protocols:
            if not getattr(protocol, "_lab_tapped", False):
                tap = functools.partial(self._lab_datagram, protocol)
                protocol.datagram_received = tap  # type: ignore[method-assign]
                protocol._lab_tapped = True  # type: ignore[attr-defined]

    @property
    def lab_protocols(self) -> list[StunProtocol]:
        return list(self._protocols)

    # traffic

    def lab_traffic_for(self, protocol: StunProtocol, remote: Address) -> PairTraffic:
        key = (protocol.id, remote)
        traffic = self.lab_traffic.get(key)
        if traffic is None:
            traffic = self.lab_traffic[key] = PairTraffic()
        return traffic

    def _lab_datagram(self, protocol: StunProtocol, data: bytes, addr: tuple[Any, ...]) -> None:
        remote = (addr[0], addr[1])
        now = asyncio.get_running_loop().time()
        self.lab_last_inbound = now
        traffic = self.lab_traffic_for(protocol, remote)
        traffic.bytes_received += len(data)
        traffic.packets_received += 1
        traffic.last_received = now
        if is_dtls_or_srtp(data):
            if self.lab_sink is not None:
                self.lab_sink(self, protocol, remote, data)
            return
        StunProtocol.datagram_received(protocol, data, remote)

    def data_received(self, data: bytes, component: int) -> None:
        # non-STUN data that did not look like DTLS/SRTP; pass it on all the same
        if self.lab_sink is not None:
            self.lab_sink(self, None, None, data)

    def _check_list_maybe_complete(self) -> bool:
        complete = super()._check_list_maybe_complete()
        if complete:
            self.lab_nominated.set()
        return complete

    def lab_abandon_relays(self) -> None:
        """Drop TURN allocations without deleting them (the server is gone): close the
        client sockets now; the server frees the allocation when it expires (RFC 8656)."""
        for protocol in list(self._protocols):
            relay = protocol.transport
            if isinstance(relay, TurnTransport):
                pending = relay._TurnTransport__close_task  # type: ignore[attr-defined]
                if pending is not None:
                    pending.cancel()
                relay._TurnTransport__inner_protocol.transport.close()  # type: ignore[attr-defined]

    def lab_selected_pair(self) -> Any:
        return self._nominated.get(1)

    # consent freshness (RFC 7675) without closing on expiry

    async def query_consent(self) -> None:
        assert self.remote_password is not None
        loop = asyncio.get_running_loop()
        answered = True
        while True:
            # a missed answer is re-checked soon (like libwebrtc pinging a weak connection
            # faster), so one lost datagram does not let consent lapse for a whole interval
            interval = self._lab_consent_interval * (1.0 if answered else 0.25)
            await asyncio.sleep(interval * (0.8 + 0.4 * random.random()))
            if not self.lab_consent_enabled:
                continue
            for pair in list(self._nominated.values()):
                answered = await self._lab_check_consent(pair)
                if answered:
                    self.lab_last_consent = loop.time()
                    self.lab_last_inbound = self.lab_last_consent

    async def _lab_check_consent(self, pair: Any) -> bool:
        assert self.remote_password is not None
        request = self.build_request(pair, nominate=False)
        try:
            await pair.protocol.request(
                request,
                pair.remote_addr,
                integrity_key=self.remote_password.encode("utf8"),
                retransmissions=0,
            )
        except (stun.TransactionError, ConnectionError, OSError, AssertionError):
            return False
        return True
