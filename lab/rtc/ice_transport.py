"""An RTCIceTransport whose aioice agent can be replaced without the DTLS layer noticing.

RTCDtlsTransport only calls `transport._recv()` and `transport._send()`. Here both stay the
same callables for the transport's whole life while ICE generations come and go underneath:
every generation's sockets feed one receive queue, and `_send` goes out on the selected pair of
the generation currently carrying media. So the DTLS session, SRTP keys, SSRCs and SCTP
association survive an ICE restart with no new handshake.

Make-before-break: a new generation gathers and checks while the active one still carries media;
when it nominates a pair it becomes active, and the old one lingers a while for late packets.
If the new one fails, the old one stays (if alive).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from aioice.ice import StunProtocol
from aiortc.exceptions import InvalidStateError
from aiortc.rtcconfiguration import RTCIceServer, RTCIceTransportPolicy
from aiortc.rtcicetransport import (
    ICE_TRANSPORT_POLICIES,
    RTCIceCandidate,
    RTCIceGatherer,
    RTCIceParameters,
    RTCIceTransport,
    candidate_from_aioice,
    connection_kwargs,
)
from pyee.asyncio import AsyncIOEventEmitter

from .generation import IceGeneration
from .ice_connection import Address, LabIceConnection, PairTraffic
from .options import DetectionConfig, IceOptions

logger = logging.getLogger(__name__)

# seconds between looks at a broken path's datagrams under the lenient rule (consent_only=False),
# whose revival no event announces; consent answers (the default rule) are announced
LENIENT_REVIVAL_POLL = 0.02


@dataclass(frozen=True)
class CandidatePairInfo:
    """The pair a generation selected, as reported in events and stats."""

    generation: int
    local_type: str
    local_address: Address
    remote_type: str
    remote_address: Address
    protocol: str


@dataclass(frozen=True)
class MediaReceived:
    """One SRTP packet (not RTCP) arrived: for timing media gaps per packet.

    `at` is the event loop's clock (time.monotonic()), `ssrc`/`sequence_number` are read from
    the clear-text RTP header. `pair`: the candidate pair it arrived on (the local socket that
    received it and the address it came from), which can differ from the selected pair (the
    remote side switched first); None when the socket is unknown.
    """

    at: float
    generation: int
    ssrc: int
    sequence_number: int
    size: int
    remote_address: Address | None
    pair: CandidatePairInfo | None = None


@dataclass(frozen=True)
class SelectedPairChange:
    """The ICE transport started sending on another pair (first pair, or a restart cut-over)."""

    at: float
    pair: CandidatePairInfo
    previous_generation: int | None


def describe_pair(generation: int, pair: Any) -> CandidatePairInfo:
    local = pair.local_candidate
    remote = pair.remote_candidate
    return CandidatePairInfo(
        generation=generation,
        local_type=local.type,
        local_address=(local.host, local.port),
        remote_type=remote.type,
        remote_address=pair.remote_addr,
        protocol=local.transport,
    )


def arrival_pair(
    generation: int, connection: Any, protocol: Any, remote: Address | None
) -> CandidatePairInfo | None:
    """The pair a datagram arrived on: the checked pair of its local socket and source address;
    an address the remote side never signaled is peer-reflexive (RFC 8445 7.3.1.3)."""
    if protocol is None or remote is None:
        return None
    for pair in getattr(connection, "_check_list", ()):
        if pair.protocol is protocol and tuple(pair.remote_addr) == tuple(remote):
            return describe_pair(generation, pair)
    local = getattr(protocol, "local_candidate", None)
    if local is None:
        return None
    remote_type = next(
        (c.type for c in getattr(connection, "_remote_candidates", ()) if (c.host, c.port) == tuple(remote)),
        "prflx",
    )
    return CandidatePairInfo(
        generation=generation,
        local_type=local.type,
        local_address=(local.host, local.port),
        remote_type=remote_type,
        remote_address=(remote[0], remote[1]),
        protocol=local.transport,
    )


def is_rtp_not_rtcp(data: bytes) -> bool:
    # RTCP packet types 192-223 sit where RTP has marker + payload type (RFC 5761)
    return len(data) >= 12 and 128 <= data[0] < 192 and not 192 <= data[1] <= 223


class GenerationFactory:
    """Makes the agent of each new generation from the current configuration."""

    def __init__(
        self,
        iceServers: Optional[list[RTCIceServer]],
        iceTransportPolicy: RTCIceTransportPolicy,
        detection: DetectionConfig,
        options: IceOptions,
    ) -> None:
        self.configure(iceServers, iceTransportPolicy, options)
        self.detection = detection

    def configure(
        self,
        iceServers: Optional[list[RTCIceServer]],
        iceTransportPolicy: RTCIceTransportPolicy,
        options: IceOptions,
    ) -> None:
        if iceServers is None:
            iceServers = RTCIceGatherer.getDefaultIceServers()
        state = (connection_kwargs(iceServers), ICE_TRANSPORT_POLICIES[iceTransportPolicy], options)
        if state != getattr(self, "_state", None):
            # bumped at every change: a pooled generation gathered under an older one is stale
            self.version = getattr(self, "version", 0) + 1
        self._state = state
        self.ice_kwargs, self.policy, self.options = state

    def make(
        self,
        number: int,
        ice_controlling: bool,
        username: str | None = None,
        password: str | None = None,
    ) -> IceGeneration:
        connection = LabIceConnection(
            generation=number,
            host_addresses=self.options.host_addresses,
            consent_interval=self.detection.consent_interval,
            consent_retransmit_interval=self.detection.consent_retransmit_interval,
            server_candidates_retry=self.options.server_candidates_retry,
            check_interval=self.options.check_interval,
            check_pacing=self.options.check_pacing,
            check_timeout=self.options.check_timeout,
            server_query_interval=self.options.server_query_interval,
            rank_host_addresses=self.options.rank_host_addresses,
            backup_ping_interval=self.options.backup_pings,
            recheck_delay_after_address_loss=self.detection.recheck_delay_after_address_loss,
            ice_controlling=ice_controlling,
            local_username=username,
            local_password=password,
            transport_policy=self.policy,
            use_ipv6=self.options.use_ipv6,
            **self.ice_kwargs,
        )
        return IceGeneration(number, connection)


class RestartableIceGatherer(RTCIceGatherer):
    """Gathers and describes one generation at a time: the one the local description names."""

    def __init__(self, factory: GenerationFactory, first: IceGeneration) -> None:
        AsyncIOEventEmitter.__init__(self)
        self._factory = factory
        self._remote_candidates_end = False
        self.described = first
        # set by the peer connection before each local description: trickle (wait for host
        # candidates only) or describe every candidate (the remote does not trickle)
        self.trickle = factory.options.trickle

    @property
    def _connection(self) -> LabIceConnection:  # type: ignore[override]
        return self.described.connection

    @property
    def state(self) -> str:
        return self.described.gather_state

    async def gather(self) -> None:
        generation = self.described
        if generation.gather_state == "completed":
            return
        announce = generation.gather_state == "new"
        generation.start_gathering()
        if announce:
            self.emit("statechange")
        await generation.gather_for_description(self.trickle)
        if generation.gather_state == "completed":
            self.emit("statechange")

    def getLocalCandidates(self) -> list[RTCIceCandidate]:
        return [candidate_from_aioice(x) for x in self.described.connection.local_candidates]

    def getLocalParameters(self) -> RTCIceParameters:
        return self.described.local


class RestartableIceTransport(RTCIceTransport):
    """Drop-in RTCIceTransport with ICE generations, 'disconnected' and restart-from-failed.

    States: new, checking, completed (connected), disconnected, failed, closed.
    'failed' is terminal until a restart; it never closes the DTLS transport.
    Events: 'statechange', 'selectedcandidatepairchange' (SelectedPairChange),
    'generationfailed' (IceGeneration) when a new generation gave up.
    """

    def __init__(
        self,
        gatherer: RestartableIceGatherer,
        factory: GenerationFactory,
        media_listener: Callable[[MediaReceived], None] | None = None,
    ) -> None:
        AsyncIOEventEmitter.__init__(self)
        self._gatherer = gatherer
        self._factory = factory
        self._media_listener = media_listener
        self._active: IceGeneration = gatherer.described
        self._pending: IceGeneration | None = None
        self._known: list[IceGeneration] = []
        self._next_number = self._active.number + 1
        self._role_set = False
        self._state = "new"
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._initial_started = False
        self._initial_done = asyncio.Event()
        self._liveness_timer: asyncio.TimerHandle | None = None
        self._rechecked_at: tuple[int, float] | None = None  # (generation, last consent) rechecked
        self._generation_tasks: set[asyncio.Task[None]] = set()
        self.remote_target: IceGeneration = self._active
        self.dropped_sends = 0
        self.restarts = 0
        self._addresses_lock = asyncio.Lock()
        self._pool: IceGeneration | None = None
        self._attach(self._active)

    # what RTCPeerConnection and RTCDtlsTransport use

    @property
    def iceGatherer(self) -> RestartableIceGatherer:
        return self._gatherer

    @property
    def _connection(self) -> LabIceConnection:  # type: ignore[override]
        return self._active.connection

    @property
    def role(self) -> str:
        return "controlling" if self._active.connection.ice_controlling else "controlled"

    @property
    def state(self) -> str:
        return self._state

    @property
    def activeGeneration(self) -> IceGeneration:
        return self._active

    @property
    def pendingGeneration(self) -> IceGeneration | None:
        return self._pending

    @property
    def generations(self) -> list[IceGeneration]:
        """Every generation whose sockets are still open (lingering ones included)."""
        self._known = [g for g in self._known if g.phase != "closed"]
        return sorted(self._known, key=lambda g: g.number)

    def getSelectedCandidatePair(self) -> CandidatePairInfo | None:
        pair = self._active.selected_pair()
        return None if pair is None else describe_pair(self._active.number, pair)

    def getRemoteCandidates(self) -> list[RTCIceCandidate]:
        return [candidate_from_aioice(x) for x in self._active.connection.remote_candidates]

    async def addRemoteCandidate(self, candidate: Optional[RTCIceCandidate]) -> None:
        """Add a remote candidate to the generation its `usernameFragment` names (current or
        pending), else to the one the remote description names."""
        await self.generation_for_remote_ufrag(
            getattr(candidate, "usernameFragment", None)
        ).add_remote_candidate(candidate)

    def generation_for_remote_ufrag(self, ufrag: str | None) -> IceGeneration:
        if ufrag is not None:
            for generation in sorted(self._known, key=lambda g: -g.number):
                remote = generation.remote
                if remote is not None and remote.usernameFragment == ufrag and not generation.closed:
                    return generation
        return self.remote_target

    async def start(self, remoteParameters: RTCIceParameters) -> None:
        """Start the first generation (later generations start through `begin_generation`)."""
        if self._state == "closed":
            raise InvalidStateError("RTCIceTransport is closed")
        if self._initial_started:
            await self._initial_done.wait()
            return
        self._initial_started = True
        generation = self._active
        self._set_state("checking")
        connected = await generation.connect(remoteParameters)
        if self._state != "closed" and generation is self._active:
            if connected:
                self._on_connected(generation, previous=None)
            elif self._pending is None or not self._pending.started:
                self._set_state("failed")
        self._initial_done.set()

    async def stop(self) -> None:
        if self._state == "closed":
            return
        self._set_state("closed")
        if self._liveness_timer is not None:
            self._liveness_timer.cancel()
            self._liveness_timer = None
        for task in list(self._generation_tasks):
            task.cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        for generation in self.generations:
            await generation.close()
        self._initial_done.set()
        self._queue.put_nowait(None)

    async def _recv(self) -> bytes:
        data = await self._queue.get()
        if data is None:
            self._queue.put_nowait(None)
            raise ConnectionError("ICE transport closed")
        return data

    async def _send(self, data: bytes) -> None:
        generation = self._active
        pair = generation.selected_pair()
        if pair is None or self._state == "closed":
            # like UDP into a dead path: dropped, never an error that would stop a sender
            self.dropped_sends += 1
            return
        # in 'disconnected' and 'failed' too, media keeps going to the selected pair (as in
        # Chrome): the moment the path returns, it arrives, with no restart needed
        try:
            await pair.protocol.send_data(data, pair.remote_addr)
        except (OSError, ConnectionError):
            self.dropped_sends += 1
            return
        traffic = generation.connection.lab_traffic_for(pair.protocol, pair.remote_addr)
        traffic.bytes_sent += len(data)
        traffic.packets_sent += 1

    # generations

    def _attach(self, generation: IceGeneration) -> None:
        generation.connection.lab_sink = self._on_datagram
        generation.connection.lab_on_nominated = (
            lambda pair, g=generation: self._on_renominated(g, pair)
        )
        generation.connection.lab_on_consent = lambda g=generation: self._on_consent(g)
        generation.on_candidate = self._on_local_candidate
        generation.on_gathered = self._on_gathered
        self._known.append(generation)

    def _on_local_candidate(self, generation: IceGeneration, candidate: Any) -> None:
        if self._state != "closed":
            self.emit("icecandidate", generation, candidate)

    def _on_gathered(self, generation: IceGeneration) -> None:
        if generation is self._gatherer.described and self._state != "closed":
            self._gatherer.emit("statechange")

    def _on_renominated(self, generation: IceGeneration, pair: Any) -> None:
        """The active generation nominated another pair (a new path checked after it
        completed, e.g. continual gathering): media moves there."""
        if generation is not self._active or generation.phase != "connected":
            return
        loop = asyncio.get_running_loop()
        generation.connection.lab_last_consent = loop.time()
        self.emit(
            "selectedcandidatepairchange",
            SelectedPairChange(
                at=loop.time(),
                pair=describe_pair(generation.number, pair),
                previous_generation=generation.number,
            ),
        )
        if self._state in ("disconnected", "failed"):
            self._set_state("completed")
        self._arm_liveness()

    def _on_datagram(
        self,
        connection: LabIceConnection,
        protocol: StunProtocol | None,
        remote: Address | None,
        data: bytes,
    ) -> None:
        if self._state == "closed":
            return
        self._queue.put_nowait(data)
        if self._media_listener is not None and is_rtp_not_rtcp(data):
            self._media_listener(
                MediaReceived(
                    at=asyncio.get_running_loop().time(),
                    generation=connection.lab_generation,
                    ssrc=int.from_bytes(data[8:12], "big"),
                    sequence_number=int.from_bytes(data[2:4], "big"),
                    size=len(data),
                    remote_address=remote,
                    pair=arrival_pair(connection.lab_generation, connection, protocol, remote),
                )
            )

    def generation_for_local_ufrag(self, ufrag: str | None) -> IceGeneration | None:
        for generation in (self._gatherer.described, self._active, self._pending):
            if generation is not None and generation.local.usernameFragment == ufrag:
                return generation
        return None

    def new_generation(self, username: str, password: str) -> IceGeneration:
        """A fresh generation with the given credentials (or the pre-gathered pool's, with
        its own credentials); replaces an unused pending one."""
        stale = self._pending
        if stale is not None and not stale.started:
            asyncio.ensure_future(stale.close())
        generation = self._take_pool()
        if generation is None:
            generation = self._factory.make(
                self._next_number,
                ice_controlling=self._active.connection.ice_controlling,
                username=username,
                password=password,
            )
        self._next_number += 1
        self._attach(generation)
        self._pending = generation
        return generation

    # candidate pool (W3C iceCandidatePoolSize): the next restart's generation, gathered ahead

    def _refill_pool(self) -> None:
        if (
            self._factory.options.candidate_pool_size < 1
            or self._pool is not None
            or self._state == "closed"
        ):
            return
        pool = self._factory.make(-1, ice_controlling=self._active.connection.ice_controlling)
        pool.pool_version = self._factory.version  # type: ignore[attr-defined]
        pool.start_gathering()
        self._pool = pool

    def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            asyncio.ensure_future(pool.close())

    def _take_pool(self) -> IceGeneration | None:
        pool, self._pool = self._pool, None
        if pool is None:
            return None
        if pool.closed or getattr(pool, "pool_version", None) != self._factory.version:
            asyncio.ensure_future(pool.close())
            return None
        pool.number = pool.connection.lab_generation = self._next_number
        pool.connection.ice_controlling = self._active.connection.ice_controlling
        return pool

    def discard_pending(self, keep: IceGeneration | None = None) -> None:
        """Drop a pending generation that never started (after a rollback)."""
        pending = self._pending
        if pending is not None and pending is not keep and not pending.started:
            self._pending = None
            asyncio.ensure_future(pending.close())

    def begin_generation(self, generation: IceGeneration, remote: RTCIceParameters) -> None:
        """Both descriptions name `generation`: run its checks next to the active one."""
        if generation is self._active or generation.started or generation.closed:
            return
        self._pending = generation
        generation.scheduled = True
        self.restarts += 1
        if self._state in ("disconnected", "failed", "new"):
            self._set_state("checking")
        task = asyncio.ensure_future(self._run_generation(generation, remote))
        self._generation_tasks.add(task)
        task.add_done_callback(self._generation_tasks.discard)

    async def _run_generation(self, generation: IceGeneration, remote: RTCIceParameters) -> None:
        await generation.gather_host()
        timeout = self._factory.options.new_generation_timeout
        try:
            connected = await asyncio.wait_for(generation.connect(remote), timeout)
        except asyncio.TimeoutError:
            connected = False
        if self._state == "closed":
            return
        if connected and generation.number < self._active.number:
            # a newer generation took over while this one was checking: it stays superseded
            logger.info("ICE generation %s connected after %s took over; retiring it", generation, self._active)
            if self._pending is generation:
                self._pending = None
            self._retire(generation)
        elif connected:
            previous = self._active
            self._active = generation
            if self._pending is generation:
                self._pending = None
            if previous is not generation:
                self._retire(previous)
            self._on_connected(generation, previous=previous)
        else:
            logger.info("ICE generation %s gave up; keeping %s", generation, self._active)
            if self._pending is generation:
                self._pending = None
            await generation.close()
            self.emit("generationfailed", generation)
            newer_running = self._pending is not None and self._pending.started
            if self._state == "checking" and not newer_running and not self._alive(self._active):
                self._set_state("failed")

    def _retire(self, generation: IceGeneration) -> None:
        generation.close_later(self._factory.options.old_generation_linger)

    def _on_connected(self, generation: IceGeneration, previous: IceGeneration | None) -> None:
        loop = asyncio.get_running_loop()
        generation.connection.lab_last_inbound = loop.time()
        generation.connection.lab_last_consent = loop.time()
        pair = generation.selected_pair()
        if pair is not None:
            self.emit(
                "selectedcandidatepairchange",
                SelectedPairChange(
                    at=loop.time(),
                    pair=describe_pair(generation.number, pair),
                    previous_generation=None if previous is None else previous.number,
                ),
            )
        self._set_state("completed")
        self._arm_liveness()
        self._refill_pool()

    # the host's addresses changed

    async def update_addresses(self, addresses: list[str]) -> None:
        """Prune the candidates and pairs of vanished addresses at once (every generation).
        A restart's generation still checking gathers on new addresses too (a restart fired
        as the old network went, before the new one was up, still finds it). With
        `IceOptions.gather_continually` the active generation does as well: its new candidates
        are trickled and checked at once, and the first that answers becomes the selected
        pair, with no ICE restart; when the selected pair's own address vanished, the paths
        left are checked again too (fail-over) and announced again to the remote."""
        alive = set(addresses)
        if self._pool is not None:  # gathered on the old addresses: gather again
            self._drop_pool()
            self._refill_pool()
        async with self._addresses_lock:
            active = self._active
            selected = active.connection.lab_selected_pair()
            for generation in self.generations:
                if not generation.closed:
                    generation.connection.lab_prune_addresses(alive)
            if (
                self._factory.detection.disconnect_on_interface_loss
                and active.phase == "connected"
                and selected is not None
                and active.connection.lab_selected_pair() is None
            ):
                # the selected pair's socket went with its interface: its consent is lost now,
                # and the engine says so now (Firefox's socket errors), not at the next tick
                lost = asyncio.get_running_loop().time() - self._factory.detection.disconnected_after
                active.connection.lab_last_consent = active.connection.lab_last_inbound = lost
                if self._state not in ("checking", "failed", "closed"):
                    self._set_state("disconnected")
                self._arm_liveness()
            if self._state == "closed":
                return
            targets = []
            pending = self._pending
            if (
                pending is not None
                and not pending.closed
                and pending.phase != "connected"
                and pending.gather_state != "new"
            ):
                targets.append(pending)
            if (
                self._factory.options.gather_continually
                and not active.closed
                and active.connection.lab_gathered.is_set()
            ):
                targets.append(active)
            for generation in targets:
                await generation.connection.lab_gather_addresses(addresses)
            if (
                self._factory.options.gather_continually
                and not active.closed
                and active.connection.lab_lost_selected
            ):
                # the selected path's interface went: fail over to the paths left (LTE, up
                # since before the call, was paired then), and announce them again so that
                # the remote checks them too, which opens its NAT to ours
                active.connection.lab_fail_over()
                active.announce_again()

    # liveness: evaluated at its deadlines and when consent is answered, not on a poll

    def _last_heard(self, generation: IceGeneration) -> float | None:
        connection = generation.connection
        if self._factory.detection.consent_only:
            return connection.lab_last_consent
        return connection.lab_last_inbound

    def _silence(self, generation: IceGeneration) -> float:
        last = self._last_heard(generation)
        if last is None:
            return 0.0
        return asyncio.get_running_loop().time() - last

    def _alive(self, generation: IceGeneration) -> bool:
        return (
            generation.phase == "connected"
            and self._silence(generation) < self._factory.detection.disconnected_after
        )

    def _on_consent(self, generation: IceGeneration) -> None:
        """A consent check of `generation` was answered: a broken path is back at once (a
        healthy one needs nothing: its deadline moves on when its timer fires)."""
        if generation is self._active and self._state in ("disconnected", "checking", "failed"):
            self._arm_liveness()

    def _arm_liveness(self) -> None:
        """Evaluate liveness now, then again at the next deadline it depends on."""
        if self._liveness_timer is not None:
            self._liveness_timer.cancel()
            self._liveness_timer = None
        if self._state == "closed":
            return
        when = self._check_liveness()
        if when is not None:
            self._liveness_timer = asyncio.get_running_loop().call_at(when, self._arm_liveness)

    def last_heard_at(self) -> float | None:
        """When the active generation last heard the remote (event loop clock, which is
        time.monotonic()): its last consent answer (or datagram, under the lenient rule).
        'disconnected' and 'failed' come exactly disconnected_after / failed_after after it."""
        return self._last_heard(self._active)

    def liveness_deadline(self) -> float | None:
        """When liveness is next evaluated (the event loop's clock), None when only a consent
        answer or a connected generation can change it."""
        timer = self._liveness_timer
        return None if timer is None or timer.cancelled() else timer.when()

    def _check_liveness(self) -> float | None:
        """Apply the active generation's silence to the state; returns the next deadline: the
        last consent answer (or datagram, lenient rule) + recheck_pairs_after, +
        disconnected_after or + failed_after, whichever comes first and is still ahead."""
        detection = self._factory.detection
        generation = self._active
        last = self._last_heard(generation)
        if generation.phase != "connected" or last is None:
            return None  # _on_connected arms it again
        connection = generation.connection
        now = asyncio.get_running_loop().time()
        silence = now - last
        ahead: list[float] = []
        if detection.recheck_pairs_after is not None and connection.lab_last_consent is not None:
            key = (generation.number, connection.lab_last_consent)
            if self._rechecked_at != key:
                if silence >= detection.recheck_pairs_after:
                    # once per silence: the first other pair that answers takes the call
                    self._rechecked_at = key
                    connection.lab_recheck_pairs()
                else:
                    ahead.append(last + detection.recheck_pairs_after)
        if silence >= detection.failed_after:
            if self._state != "failed" and (self._pending is None or not self._pending.started):
                self._set_state("failed")
        elif silence >= detection.disconnected_after:
            if self._state not in ("checking", "failed"):
                self._set_state("disconnected")
        elif self._state in ("disconnected", "checking", "failed"):
            # consent answered again: the path is back, no restart needed (as in Chrome)
            self._set_state("completed")
        for after in (detection.disconnected_after, detection.failed_after):
            if silence < after:
                ahead.append(last + after)
        if not detection.consent_only and self._state in ("disconnected", "checking", "failed"):
            # the lenient rule: any datagram revives the path; datagrams are not announced
            ahead.append(now + LENIENT_REVIVAL_POLL)
        return min(ahead) if ahead else None

    def _set_state(self, state: str) -> None:
        if state != self._state:
            logger.debug("RestartableIceTransport %s -> %s", self._state, state)
            self._state = state
            if state in ("disconnected", "failed") and self._pool is not None:
                # the path broke: the pool's server candidates (a TURN allocation, a NAT
                # mapping) may have broken with it; gather the pool again from now
                self._drop_pool()
                self._refill_pool()
            self.emit("statechange")
            if state == "closed":
                self._gatherer.remove_all_listeners()
                self.remove_all_listeners()

    # stats

    def traffic(self) -> list[tuple[IceGeneration, Any, PairTraffic]]:
        """(generation, candidate pair, traffic) for every checked pair of live generations."""
        rows = []
        for generation in self.generations:
            connection = generation.connection
            for pair in connection._check_list:
                traffic = connection.lab_traffic.get((pair.protocol.id, pair.remote_addr))
                rows.append((generation, pair, traffic or PairTraffic()))
        return rows
