"""One ICE generation's agent: an aioice Connection that never closes itself.

Differences from aioice's Connection (0.13.0):
- connectivity checks are paced, not backed off: an unanswered check is sent again every
  `check_interval` (48 ms; bounded by Ta x pairs in progress, RFC 8445) until `check_timeout`,
  instead of aioice's 0.5 s RTO doubling; an incoming check on a pair whose own check is in
  progress makes that check go out again at once (triggered check); one ordinary check per Ta
  starts the pairs likely to work first: a host pair to a remote behind another NAT than ours
  waits until the others have started (`lab_unlikely_pair`);
- STUN server queries and TURN requests (`lab.rtc.turn`) are paced too (`server_query_interval`);
- gathering trickles: host candidates first (`lab_host_gathered`), then STUN/TURN candidates
  as each answer arrives; every new local candidate is handed to `lab_on_candidate` (None at
  the end) and paired with the remote candidates known so far, also after checks started;
- consent checks run at a configurable interval, are retransmitted at a fixed pace until
  answered, never close the connection, and only record when consent last succeeded;
- every datagram is tapped: it stamps liveness, counts bytes per (socket, remote address) and
  hands DTLS/SRTP datagrams straight to a sink, so several generations feed one receive queue;
- host candidates can be gathered on given addresses (aioice always skips 127.0.0.1), and added
  or pruned later as the host's addresses change (continual gathering), relay sockets reached
  from a vanished address with them; when the selected pair's address vanished, the paths left
  are checked again at once (`lab_fail_over`);
- when every STUN/TURN query of a gathering timed out (a generation gathered during an outage),
  the queries are repeated for a while: behind a NAT, host candidates alone reach nobody;
- backup pairs are kept warm (`backup_ping_interval`): after nomination the other pairs, the
  ones aggressive nomination dropped formed again, keep being checked, so that when the
  selected pair's address vanishes the controlling side moves to a valid backup at once and
  nominates it with one check (`lab_fail_over`); the controlled side follows that nomination;
- a check whose task was cancelled (connect()'s clean-up) does not block a later check of the
  same pair: aioice starts a pair's check only while its task is None.
"""

from __future__ import annotations

import asyncio
import functools
import random
import socket
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aioice import Candidate, Connection, TransportPolicy, stun
from aioice.candidate import candidate_foundation, candidate_priority
from aioice.ice import (
    CandidatePair,
    StunProtocol,
    candidate_pair_priority,
    get_host_addresses,
)

from lab.rtc import turn
from lab.rtc.paced import PacedRequest

Address = tuple[str, int]
PairKey = tuple[int, Address]
DatagramSink = Callable[["LabIceConnection", "StunProtocol | None", "Address | None", bytes], None]
CandidateListener = Callable[["Candidate | None"], None]
NominationListener = Callable[[Any], None]

# seconds one round of STUN/TURN queries may take (aioice's gathering timeout)
SERVER_QUERY_TIMEOUT = 5.0


@dataclass
class PairTraffic:
    bytes_sent: int = 0
    bytes_received: int = 0
    packets_sent: int = 0
    packets_received: int = 0
    last_received: float | None = None


@dataclass(eq=False)
class BackupPair:
    """A pair kept warm while another is selected (`backup_ping_interval`)."""

    pair: CandidatePair
    checked_at: float | None = None   # when its last backup check went out
    answered_at: float | None = None  # when one was last answered (None: not valid now)
    checks: int = 0                   # backup checks sent (a retransmission is not one)
    ping: asyncio.Task[None] | None = None
    nominated_meanwhile: bool = False  # the controlling side nominated it during our check


def address_is_local(host: str) -> bool:
    """Whether the host still has `host` (a socket can be bound to it); '0.0.0.0' always."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, 0))
        except OSError:
            return False
    return True


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
        consent_retransmit_interval: float = 0.048,
        server_candidates_retry: float = 0.0,
        check_interval: float = 0.048,
        check_pacing: float = 0.02,
        check_timeout: float = 10.0,
        server_query_interval: float = 0.1,
        rank_host_addresses: bool = False,
        backup_ping_interval: float | None = None,
        recheck_delay_after_address_loss: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lab_generation = generation
        self.lab_sink: DatagramSink | None = None
        self.lab_on_candidate: CandidateListener | None = None
        self.lab_on_nominated: NominationListener | None = None
        self.lab_last_inbound: float | None = None
        self.lab_last_consent: float | None = None
        self.lab_on_consent: Callable[[], None] | None = None  # a consent check was answered
        self.lab_consent_enabled = True
        self.lab_traffic: dict[PairKey, PairTraffic] = {}
        self.lab_nominated = asyncio.Event()
        self.lab_host_gathered = asyncio.Event()
        self.lab_gathered = asyncio.Event()
        self.lab_checks_sent = 0
        self.lab_lost_selected = False  # a prune removed the nominated pair (see lab_fail_over)
        self._lab_host_addresses = host_addresses
        self._lab_consent_interval = consent_interval
        self._lab_consent_retransmit = consent_retransmit_interval
        self._lab_server_candidates_retry = server_candidates_retry
        self._lab_check_interval = check_interval
        self._lab_check_pacing = check_pacing
        self._lab_check_timeout = check_timeout
        self._lab_server_query_interval = server_query_interval
        self._lab_rank_host_addresses = rank_host_addresses
        self._lab_backup_interval = backup_ping_interval
        self._lab_backup_task: asyncio.Task[None] | None = None
        self._lab_nominating_backup: asyncio.Task[None] | None = None
        self.lab_backups: dict[int, BackupPair] = {}  # id(pair) -> its backup state
        # pairs of paths that appeared after the check list completed (continual gathering, a
        # remote's re-announced candidate): their checks nominate as before
        self._lab_new_paths: weakref.WeakSet[CandidatePair] = weakref.WeakSet()
        self._lab_rechecking = False  # lab_recheck_pairs ran, no other pair answered yet
        self._lab_recheck_delay = recheck_delay_after_address_loss
        self._lab_recheck_deferred: asyncio.TimerHandle | None = None
        self._lab_held: CandidatePair | None = None  # nominated, taken when media comes over it
        self._lab_all_failed_fast = False
        self._lab_requests: dict[int, PacedRequest] = {}  # id(pair) -> its check in flight
        # checks started after the check list completed (continual gathering, and the checks
        # they trigger): they outlive connect(), whose clean-up stops the initial list's checks
        self._lab_late_checks: set[CandidatePair] | None = set()  # None once connect() cleaned up

    # gathering

    def _lab_addresses(self) -> list[str]:
        if self._transport_policy != TransportPolicy.ALL:
            return []  # relay only: no host or srflx candidates (RFC 9429 section 3.5.3)
        if self._lab_host_addresses is not None:
            return list(self._lab_host_addresses)
        return get_host_addresses(use_ipv4=self._use_ipv4, use_ipv6=self._use_ipv6)

    def _lab_priority(self, component: int, kind: str, address: str) -> int:
        """RFC 8445 priority; with rank_host_addresses, the local preference falls with the
        address's place in host_addresses (a host's networks ranked, as browsers do), so the
        first address's pairs are checked, and nominated, first."""
        order = self._lab_host_addresses if self._lab_rank_host_addresses else None
        if order is None or address not in order:
            return candidate_priority(component, kind)
        return candidate_priority(component, kind, local_pref=65535 - order.index(address))

    async def gather_candidates(self) -> None:
        """Host candidates, then server candidates as each answer arrives (trickled)."""
        if self._local_candidates_start:
            await self.lab_gathered.wait()
            return
        self._local_candidates_start = True
        try:
            protocols: list[StunProtocol] = []
            for component in sorted(self._components):
                for address in self._lab_addresses():
                    protocol = await self._lab_bind_host(component, address)
                    if protocol is not None:
                        protocols.append(protocol)
            self.lab_host_gathered.set()
            await self._lab_query_servers(protocols, SERVER_QUERY_TIMEOUT)
            await self._lab_retry_server_candidates()
        finally:
            self._local_candidates_end = True
            self.lab_host_gathered.set()
            self.lab_gathered.set()
            self._lab_tap_protocols()
            if not self._closing and self.lab_on_candidate is not None:
                self.lab_on_candidate(None)
            if self._early_checks_done:
                self._check_list_maybe_fail()

    async def _lab_bind_host(self, component: int, address: str) -> StunProtocol | None:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: StunProtocol(self), local_addr=(address, 0)
            )
        except OSError:
            return None  # the address vanished meanwhile
        if self._closing:
            transport.close()
            return None
        host, port = transport.get_extra_info("sockname")[:2]
        protocol.local_candidate = Candidate(
            foundation=candidate_foundation("host", "udp", host),
            component=component,
            transport="udp",
            priority=self._lab_priority(component, "host", host),
            host=host,
            port=port,
            type="host",
        )
        self._lab_add_local(protocol.local_candidate, protocol)
        return protocol

    def _lab_add_local(self, candidate: Candidate, protocol: StunProtocol | None) -> None:
        """A new local candidate: keep it, pair its socket (if new) and announce it."""
        self._local_candidates.append(candidate)
        if protocol is not None:
            self._protocols.append(protocol)
            self._lab_tap_protocols()
            self._lab_pair_local(protocol)
        if self.lab_on_candidate is not None:
            self.lab_on_candidate(candidate)

    def _lab_pair_local(self, protocol: StunProtocol) -> None:
        added: list[CandidatePair] = []
        for remote in self._remote_candidates:
            if protocol.local_candidate.can_pair_with(remote) and not self._find_pair(
                protocol, remote
            ):
                pair = CandidatePair(protocol, remote)
                self._check_list.append(pair)
                added.append(pair)
        if added:
            self.sort_check_list()
            self._lab_check_new_pairs(added)

    def _lab_check_new_pairs(self, pairs: list[CandidatePair]) -> None:
        """Pairs formed after the checks began are checked at once (not left frozen). A pair
        from a relay socket gets its server permission at once, whenever it was formed."""
        if not self._closing:
            for pair in pairs:
                turn.bind_early(pair.protocol, pair.remote_addr)
        if not self._early_checks_done or self._closing:
            return
        for pair in pairs:
            if pair.state == CandidatePair.State.FROZEN:
                self.check_state(pair, CandidatePair.State.WAITING)
            if self._check_list_done:
                self._lab_new_paths.add(pair)
                # the check list completed: a new path (continual gathering) is checked, and
                # with aggressive nomination becomes the selected pair when it answers
                self.check_start_task(pair)

    def check_start_task(self, pair: CandidatePair) -> None:
        if pair.task is not None and pair.task.done():
            # cancelled by connect()'s clean-up (check_complete never ran): without this, a
            # check the remote triggers later (its nomination after a move) is never sent
            pair.task = None
        if self._check_list_done and pair.task is None and self._lab_late_checks is not None:
            self._lab_late_checks.add(pair)  # a new path, or a check it triggered
        super().check_start_task(pair)

    def _pair_remote_candidate(self, remote_candidate: Candidate) -> None:
        before = set(map(id, self._check_list))
        super()._pair_remote_candidate(remote_candidate)
        self._lab_check_new_pairs([p for p in self._check_list if id(p) not in before])

    async def _lab_query_servers(self, protocols: list[StunProtocol], timeout: float) -> None:
        tasks: list[asyncio.Task[Any]] = []
        if self.stun_server:
            for protocol in protocols:
                if ":" not in protocol.local_candidate.host:
                    tasks.append(asyncio.ensure_future(self._lab_srflx(protocol, timeout)))
        if self.turn_server and protocols is not None:
            for component in sorted(self._components):
                tasks.append(asyncio.ensure_future(turn.relayed_candidate(
                    component=component,
                    hide_related_address=self._transport_policy == TransportPolicy.RELAY,
                    protocol_factory=lambda: StunProtocol(self),
                    turn_server=self.turn_server,
                    turn_username=self.turn_username,
                    turn_password=self.turn_password,
                    turn_ssl=self.turn_ssl,
                    turn_transport=self.turn_transport,
                    interval=self._lab_server_query_interval,
                )))
        if not tasks:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = set(tasks)
        try:
            while pending:
                left = deadline - loop.time()
                if left <= 0:
                    break
                done, pending = await asyncio.wait(
                    pending, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    if task.exception() is not None:
                        continue
                    candidate, relay_protocol = task.result()
                    if self._closing:  # closed meanwhile: keep no new socket open
                        if relay_protocol is not None:
                            await relay_protocol.close()
                        continue
                    self._lab_add_local(candidate, relay_protocol)
        finally:
            for task in pending:
                task.cancel()
        self._lab_all_failed_fast = not pending and not self._lab_has_server_candidates()

    async def _lab_srflx(self, protocol: StunProtocol, timeout: float) -> tuple[Candidate, None]:
        """A server-reflexive candidate from a STUN query sent at a fixed pace (a query lost,
        or sent before a new interface had its route, costs one interval, not aioice's 0.5 s
        doubling RTO)."""
        assert self.stun_server is not None
        loop = asyncio.get_running_loop()
        host = await loop.run_in_executor(None, socket.gethostbyname, self.stun_server[0])
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        paced = PacedRequest(
            protocol, request, (host, self.stun_server[1]), None,
            lambda: self._lab_server_query_interval, timeout,
        )
        response, _ = await paced.run()
        base = protocol.local_candidate
        mapped = response.attributes["XOR-MAPPED-ADDRESS"]
        return Candidate(
            foundation=candidate_foundation("srflx", "udp", base.host),
            component=base.component,
            transport=base.transport,
            priority=self._lab_priority(base.component, "srflx", base.host),
            host=mapped[0],
            port=mapped[1],
            type="srflx",
            related_address=base.host,
            related_port=base.port,
        ), None

    def _lab_has_server_candidates(self) -> bool:
        return any(c.type in ("srflx", "relay") for c in self._local_candidates)

    async def _lab_retry_server_candidates(self) -> None:
        """Query the STUN/TURN servers again, in rounds, while no query has answered yet."""
        if not (self.stun_server or self.turn_server) or self._lab_has_server_candidates():
            return
        if self._lab_all_failed_fast:
            # every query failed at once (unresolvable or unreachable server): not an outage
            # that may end soon, so no more rounds
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lab_server_candidates_retry
        while not self._lab_has_server_candidates():
            left = deadline - loop.time()
            if left <= 0 or self._closing:
                return
            hosts = [
                p for p in self._protocols
                if getattr(p, "local_candidate", None) is not None
                and p.local_candidate.type == "host"
            ]
            await self._lab_query_servers(hosts, min(SERVER_QUERY_TIMEOUT, left))
            if self._lab_all_failed_fast:
                return

    # continual gathering

    async def lab_gather_addresses(self, addresses: list[str]) -> list[Candidate]:
        """Gather host (and server) candidates on addresses that have none yet."""
        if self._closing or self._transport_policy != TransportPolicy.ALL:
            return []
        known = {p.local_candidate.host for p in self._protocols
                 if getattr(p, "local_candidate", None) is not None}
        before = len(self._local_candidates)
        protocols = []
        for component in sorted(self._components):
            for address in addresses:
                if address not in known:
                    protocol = await self._lab_bind_host(component, address)
                    if protocol is not None:
                        protocols.append(protocol)
        if protocols and self.stun_server:
            saved, self.turn_server = self.turn_server, None  # the relay allocation stays
            try:
                await self._lab_query_servers(protocols, SERVER_QUERY_TIMEOUT)
            finally:
                self.turn_server = saved
        return self._local_candidates[before:]

    def lab_prune_addresses(self, alive: set[str]) -> list[Candidate]:
        """Drop the host sockets (their srflx candidates and pairs) of vanished addresses, and
        the relay sockets whose allocation was reached from one (abandoned: nothing can send
        a Refresh from an address that is gone)."""
        gone = [
            p for p in self._protocols
            if getattr(p, "local_candidate", None) is not None
            and p.local_candidate.type == "host"
            and p.local_candidate.host not in alive
        ]
        relays = [
            p for p in self._protocols
            if getattr(p, "local_candidate", None) is not None
            and p.local_candidate.type == "relay"
            and turn.client_address(p) not in (None, "0.0.0.0", *alive)
        ]
        if not gone and not relays:
            return []
        hosts = {p.local_candidate.host for p in gone}
        for protocol in relays:
            turn.abandon(protocol)
        gone += relays
        for pair in list(self._check_list):
            if pair.protocol in gone:
                if pair.task is not None:
                    pair.task.cancel()
                self._check_list.remove(pair)
        for component, pair in list(self._nominated.items()):
            if pair.protocol in gone:
                del self._nominated[component]
                self.lab_lost_selected = True
        relay_candidates = [p.local_candidate for p in relays]
        removed = [
            c for c in self._local_candidates
            if c.host in hosts or (c.type == "srflx" and c.related_address in hosts)
            or any(c is r for r in relay_candidates)
        ]
        self._local_candidates = [c for c in self._local_candidates if c not in removed]
        for protocol in gone:
            self._protocols.remove(protocol)
            if protocol not in relays:
                protocol.transport.close()
        if self._early_checks_done and not self._check_list_done:
            self._check_list_maybe_fail()
        return removed

    def lab_fail_over(self) -> None:
        """The selected pair's address vanished (its interface went) and the check list had
        completed: check every path left at once, the pairs dropped at the first nomination
        formed again, nominating the first that answers (when controlling), instead of waiting
        for a restart (continual gathering; libwebrtc fails over to its other connections)."""
        if self._closing or not self._check_list_done:
            return
        self.lab_lost_selected = False
        if self.ice_controlling and self._lab_nominate_backups():
            return
        self._lab_check_all_again()

    def _lab_check_all_again(self) -> None:
        for protocol in list(self._protocols):
            if getattr(protocol, "local_candidate", None) is not None:
                self._lab_pair_local(protocol)  # new pairs are checked at once
        self._lab_check_again(self._check_list)

    def lab_check_remote_again(self, host: str, port: int, component: int) -> None:
        """The remote announced a known candidate again (its selected path vanished and it
        fails over): check our pairs with it now, dropped or failed ones too. Our checks open
        our NAT to the remote's, which it sends from its surviving interface."""
        if self._closing or not self._check_list_done:
            return
        for remote in self._remote_candidates:
            if remote.host == host and remote.port == port and remote.component == component:
                self._pair_remote_candidate(remote)  # a pair dropped earlier comes back, checked
                again = [p for p in self._check_list if p.remote_candidate is remote]
                self._lab_new_paths.update(again)
                self._lab_check_again(again)

    def _lab_check_again(self, pairs: list[CandidatePair]) -> None:
        for pair in list(pairs):
            if pair.task is not None and pair.task.done():
                pair.task = None  # a check connect()'s clean-up cancelled keeps its dead task
            if pair.task is None and pair in self._check_list:
                self.check_state(pair, CandidatePair.State.WAITING)
                self.check_start_task(pair)

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
            held = self._lab_held
            if held is not None and held.protocol is protocol and held.remote_addr == remote:
                self._lab_take_held()  # the controlling side's media came over the pair it nominated
            if self.lab_sink is not None:
                self.lab_sink(self, protocol, remote, data)
            return
        StunProtocol.datagram_received(protocol, data, remote)

    def data_received(self, data: bytes, component: int) -> None:
        # non-STUN data that did not look like DTLS/SRTP; pass it on all the same
        if self.lab_sink is not None:
            self.lab_sink(self, None, None, data)

    # connectivity checks

    async def connect(self) -> None:
        """aioice's connect() with trickled local candidates and a configurable Ta."""
        if not self._local_candidates_start:
            raise ConnectionError("Local candidates gathering was not performed")
        if self.remote_username is None or self.remote_password is None:
            raise ConnectionError("Remote username or password is missing")
        for remote_candidate in self._remote_candidates:
            Connection._pair_remote_candidate(self, remote_candidate)
        self.sort_check_list()
        self._unfreeze_initial()
        for early_check in self._early_checks:
            self.check_incoming(*early_check)
        self._early_checks.clear()
        self._early_checks_done = True
        while self._check_periodic():
            await asyncio.sleep(self._lab_check_pacing)
        if self._check_list or self._check_list_done:
            result = await self._check_list_state.get()
        else:
            result = 2  # aioice's ICE_FAILED: nothing to check, nothing more to come
        # the check list may have completed a while ago (this task resumes late on a busy
        # loop): a check continual gathering started since must not be cancelled with the
        # rest, or its pair stays in progress forever and is never selected
        late, self._lab_late_checks = self._lab_late_checks or set(), None
        for pair in self._check_list:
            if pair.task is None or (result == 1 and (pair in late or self._lab_outranks_selected(pair))):
                continue
            pair.task.cancel()
            if pair.state == CandidatePair.State.IN_PROGRESS:
                # not in progress any more: a later check from the remote (e.g. nominating it:
                # a remote that ranks its networks moves to a better one) triggers a new one
                self.check_state(pair, CandidatePair.State.FAILED)
        if result != 1:  # aioice's ICE_COMPLETED
            raise ConnectionError("ICE negotiation failed")
        self._query_consent_task = asyncio.ensure_future(self.query_consent())

    def _lab_outranks_selected(self, pair: CandidatePair) -> bool:
        """With rank_host_addresses: the pair's local address ranks above the selected pair's.
        Its check goes on after the check list completed; if it succeeds, the pair is nominated
        and carries the call (as libwebrtc moves to a better-ranked network that is writable)."""
        selected = self._nominated.get(pair.component)
        return (
            self._lab_rank_host_addresses
            and selected is not None
            and pair.local_candidate.priority > selected.local_candidate.priority
        )

    def _check_periodic(self) -> bool:
        """One ordinary check per Ta tick (connect()'s loop), as aioice's, in a different order:
        the highest-priority Waiting pair, else Frozen one, among the pairs that can work
        first, then the rest (`lab_unlikely_pair`). Triggered checks do not wait for a tick."""
        if self._check_list_done:
            return False
        pair = self._lab_next_ordinary_check()
        if pair is not None:
            self.check_start_task(pair)
            return True
        if self._remote_candidates_expected():
            return True
        # local candidates are still being gathered: they will form new pairs
        return not self.lab_gathered.is_set()

    def _lab_next_ordinary_check(self) -> CandidatePair | None:
        startable = (CandidatePair.State.WAITING, CandidatePair.State.FROZEN)
        demoted: CandidatePair | None = None
        for state in startable:
            for pair in self._check_list:  # sorted by priority
                if pair.state != state:
                    continue
                if not self.lab_unlikely_pair(pair):
                    return pair
                if demoted is None:
                    demoted = pair
        return demoted

    def lab_unlikely_pair(self, pair: CandidatePair) -> bool:
        """The pair's remote is a host candidate behind a NAT other than any of ours: the remote
        also announced a server-reflexive candidate of that host (its public mapping), we have
        server-reflexive candidates too, and no public address is shared. A private address
        behind another NAT is not reachable from here (short of routing between private
        networks, so such a pair is checked after the others, not dropped). RFC 8445 orders
        checks by pair priority, which ranks host pairs first; after a handover the host pair
        to the remote's home network would take the first Ta slot (libwebrtc's
        prioritize_most_likely_candidate_pairs likewise starts with the pairs likely to work)."""
        remote = pair.remote_candidate
        if remote.type != "host":
            return False
        remote_public = {
            c.host for c in self._remote_candidates
            if c.type == "srflx" and c.component == remote.component and c.host != remote.host
            and c.related_address in (None, "0.0.0.0", "::", remote.host)
        }
        if not remote_public:
            return False
        local_public = {c.host for c in self._local_candidates if c.type == "srflx"}
        return bool(local_public) and remote.host not in local_public and not remote_public & local_public

    def _check_list_maybe_fail(self) -> None:
        if not self.lab_gathered.is_set():
            return  # a local candidate still to come may form the pair that works
        super()._check_list_maybe_fail()

    def _lab_pair_interval(self) -> float:
        in_progress = sum(
            1 for p in self._check_list if p.state == CandidatePair.State.IN_PROGRESS
        )
        return max(self._lab_check_interval, self._lab_check_pacing * in_progress)

    async def _lab_paced_check(self, pair: CandidatePair, request: stun.Message) -> tuple[stun.Message, Address]:
        assert self.remote_password is not None
        paced = PacedRequest(
            pair.protocol,
            request,
            pair.remote_addr,
            self.remote_password.encode("utf8"),
            self._lab_pair_interval,
            self._lab_check_timeout,
        )
        self._lab_requests[id(pair)] = paced
        try:
            return await paced.run()
        finally:
            self.lab_checks_sent += paced.sent
            if self._lab_requests.get(id(pair)) is paced:
                del self._lab_requests[id(pair)]

    async def check_start(self, pair: CandidatePair) -> None:
        """One connectivity check, retransmitted at a fixed pace (not aioice's RTO)."""
        assert self.remote_password is not None
        self.check_state(pair, CandidatePair.State.IN_PROGRESS)
        may_nominate = self._lab_may_nominate(pair)
        nominate = self.ice_controlling and not self.remote_is_lite and may_nominate
        request = self.build_request(pair, nominate=nominate)
        try:
            _, addr = await self._lab_paced_check(pair, request)
        except stun.TransactionError as exc:
            if exc.response is not None and exc.response.error_code == 487:
                # role conflict (RFC 8445 section 7.2.5.1): take the other role, check again
                self.switch_role(ice_controlling="ICE-CONTROLLED" in request.attributes)
                return await self.check_start(pair)
            self.check_state(pair, CandidatePair.State.FAILED)
            self.check_complete(pair)
            return
        if addr != pair.remote_addr:  # RFC 8445 section 7.2.5.2.1
            self.check_state(pair, CandidatePair.State.FAILED)
            self.check_complete(pair)
            return
        if nominate or pair.remote_nominated:
            pair.nominated = True
        elif self.ice_controlling and may_nominate and pair.component not in self._nominating:
            # regular nomination (an ICE-lite remote): nominate the first valid pair at once
            self._nominating.add(pair.component)
            try:
                await self._lab_paced_check(pair, self.build_request(pair, nominate=True))
            except stun.TransactionError:
                self.check_state(pair, CandidatePair.State.FAILED)
                self.check_complete(pair)
                return
            pair.nominated = True
        self.check_state(pair, CandidatePair.State.SUCCEEDED)
        self.check_complete(pair)

    def check_incoming(self, message: stun.Message, addr: Address, protocol: StunProtocol) -> None:
        super().check_incoming(message, addr, protocol)
        # triggered check (RFC 8445 section 7.3.1.4): a pair whose own check is in flight
        # sends it again now rather than at its next paced retransmission
        for pair in self._check_list:
            if pair.protocol is protocol and pair.remote_addr == addr:
                if "USE-CANDIDATE" not in message.attributes and not self.ice_controlling:
                    # the controlling side's latest check on the pair decides: a nomination
                    # it made once (an aggressive check of the first round) and no longer
                    # repeats must not make a later triggered check move the call
                    pair.remote_nominated = False
                paced = self._lab_requests.get(id(pair))
                if paced is not None:
                    paced.send_now()
                backup = self.lab_backups.get(id(pair))
                if (
                    backup is not None
                    and backup.pair is pair
                    and backup.ping is not None
                    and "USE-CANDIDATE" in message.attributes
                    and not self.ice_controlling
                ):
                    backup.nominated_meanwhile = True  # nominated once our check is answered
                break

    def check_complete(self, pair: CandidatePair) -> None:
        selected = self._nominated.get(pair.component)
        was_done = self._check_list_done
        if (
            self._lab_rechecking
            and not self.ice_controlling
            and pair.state == CandidatePair.State.SUCCEEDED
            and pair is not selected
        ):
            # the controlled side too moves to a pair that answers while its selected one is
            # silent (libwebrtc's controlled agent does; the remote may not notice the silence:
            # after a NAT rebinding only one direction of the old path is dead)
            pair.nominated = True
            self._lab_rechecking = False
        elif self._lab_holds_nomination(pair, selected, was_done):
            # a lower-priority pair nominated while ours answers: the controlling side's late
            # first-round check, or its deliberate move; taken once its media arrives over it
            pair.nominated = False
            self._lab_held = pair
        super().check_complete(pair)
        now = self._nominated.get(pair.component)
        if was_done and now is not None and now is not selected:
            if self.lab_on_nominated is not None:
                self.lab_on_nominated(now)

    def _lab_holds_nomination(self, pair: CandidatePair, selected: CandidatePair | None, was_done: bool) -> bool:
        """RFC 5245 section 8.1.1.2: with aggressive nomination the highest-priority nominated
        pair is used, so the controlled side does not leave a selected pair that answers for a
        lower-priority one on its nomination alone."""
        if not was_done or self.ice_controlling or not pair.nominated or selected is None:
            return False
        if pair is selected or pair.state != CandidatePair.State.SUCCEEDED:
            return False
        lower = candidate_pair_priority(pair.local_candidate, pair.remote_candidate, False) < \
            candidate_pair_priority(selected.local_candidate, selected.remote_candidate, False)
        return lower and self._lab_selected_answering()

    def _lab_take_held(self) -> None:
        held, self._lab_held = self._lab_held, None
        if held is None or self._closing or held not in self._check_list:
            return
        held.nominated = True
        if self._nominated.get(held.component) is not held:
            self._nominated[held.component] = held
            if self.lab_on_nominated is not None:
                self.lab_on_nominated(held)

    def _check_list_maybe_complete(self) -> bool:
        complete = super()._check_list_maybe_complete()
        if complete:
            self.lab_nominated.set()
            if self._lab_backup_interval and self._lab_backup_task is None and not self._closing:
                self._lab_backup_task = asyncio.ensure_future(self._lab_keep_backups_warm())
        return complete

    def lab_abandon_relays(self) -> None:
        """Drop TURN allocations without deleting them (the server is gone): close the
        client sockets now; the server frees the allocation when it expires (RFC 8656)."""
        for protocol in list(self._protocols):
            turn.abandon(protocol)

    def lab_selected_pair(self) -> Any:
        return self._nominated.get(1)

    def lab_recheck_pairs(self) -> int:
        """Check every other pair of this generation again, pairing what the first checks never
        paired (aggressive nomination dropped them): the selected pair stopped answering, and
        another path may work (e.g. through a NAT's new binding to the remote's relay). The
        first that answers is nominated and carries the call, with no ICE restart. Returns how
        many checks started."""
        if self._closing or not self._check_list_done or self.remote_password is None:
            return 0
        selected = self._nominated.get(1)
        if (
            self._lab_recheck_delay > 0
            and self._lab_recheck_deferred is None
            and selected is not None
            and not address_is_local(self._lab_local_address(selected.protocol))
        ):
            # the selected path's interface went: wait recheck_delay_after_address_loss more
            # (DetectionConfig), unless consent comes back meanwhile
            silent_since = self.lab_last_consent
            self._lab_recheck_deferred = asyncio.get_running_loop().call_later(
                self._lab_recheck_delay, self._lab_deferred_recheck, silent_since
            )
            return 0
        return self._lab_recheck_now()

    def _lab_deferred_recheck(self, silent_since: float | None) -> None:
        self._lab_recheck_deferred = None
        if self.lab_last_consent == silent_since:
            self._lab_recheck_now()

    def _lab_local_address(self, protocol: StunProtocol) -> str:
        local = protocol.local_candidate
        if local.type == "relay":
            return turn.client_address(protocol) or "0.0.0.0"
        return str(local.related_address if local.type == "srflx" and local.related_address else local.host)

    def _lab_recheck_now(self) -> int:
        if self._closing:
            return 0
        for protocol in list(self._protocols):
            if getattr(protocol, "local_candidate", None) is not None:
                self._lab_pair_local(protocol)
        selected = self._nominated.get(1)
        self._lab_rechecking = True
        started = 0
        for pair in list(self._check_list):
            if pair is selected:
                continue
            if pair.task is not None and pair.task.done():
                pair.task = None  # cancelled by connect()'s clean-up
            if pair.task is None and pair.state != CandidatePair.State.IN_PROGRESS:
                self.check_state(pair, CandidatePair.State.WAITING)
                self.check_start_task(pair)
            started += 1
        return started

    # consent freshness (RFC 7675) without closing on expiry

    async def query_consent(self) -> None:
        assert self.remote_password is not None
        loop = asyncio.get_running_loop()
        answered = True
        while True:
            if answered or not self.lab_consent_enabled or not self._nominated:
                await asyncio.sleep(self._lab_consent_interval * (0.8 + 0.4 * random.random()))
            if not self.lab_consent_enabled:
                answered = True
                continue
            # an unanswered check (retransmitted at a fixed pace for one interval) is followed
            # by the next at once: a broken path is probed continuously, and the first answer
            # after it returns restores consent
            for pair in list(self._nominated.values()):
                answered = await self._lab_check_consent(pair)
                if answered:
                    self.lab_last_consent = loop.time()
                    self.lab_last_inbound = self.lab_last_consent
                    self._lab_rechecking = False
                    if self.lab_on_consent is not None:
                        self.lab_on_consent()

    async def _lab_check_consent(self, pair: Any) -> bool:
        assert self.remote_password is not None
        paced = PacedRequest(
            pair.protocol,
            self.build_request(pair, nominate=False),
            pair.remote_addr,
            self.remote_password.encode("utf8"),
            lambda: self._lab_consent_retransmit,
            self._lab_consent_interval,
        )
        try:
            await paced.run()
        except (stun.TransactionError, ConnectionError, OSError):
            return False
        return True

    # backup pairs kept warm (IceOptions.backup_ping_interval)

    async def close(self) -> None:
        for task in (self._lab_backup_task, self._lab_nominating_backup):
            if task is not None:
                task.cancel()
        if self._lab_recheck_deferred is not None:
            self._lab_recheck_deferred.cancel()
        for backup in self.lab_backups.values():
            if backup.ping is not None:
                backup.ping.cancel()
        await super().close()

    def _lab_may_nominate(self, pair: CandidatePair) -> bool:
        """Whether a check of `pair` by the controlling side carries USE-CANDIDATE. Always
        during the first checks; after the check list completed, not for a check the remote
        triggered on a known pair while the selected one answers (the remote's first-round
        checks arriving late, or its backup pings): with aggressive nomination it would move
        the call to whichever pair the remote checked last, e.g. from the ranked Wi-Fi to the
        standby LTE. A new path, a better-ranked one, a recheck or a fail-over still nominate."""
        if not self._check_list_done:
            return True
        selected = self._nominated.get(pair.component)
        if selected is None or selected is pair or self._lab_rechecking:
            return True
        if pair in self._lab_new_paths or self._lab_outranks_selected(pair):
            return True  # a new path (continual gathering), or a better-ranked network
        return not self._lab_selected_answering()

    def _lab_selected_answering(self) -> bool:
        last = self.lab_last_consent
        if last is None:
            return True  # no consent check yet: the check that nominated it was just answered
        return asyncio.get_running_loop().time() - last < 2 * self._lab_consent_interval

    def _lab_form_backup_pairs(self) -> None:
        """Pair again what aggressive nomination dropped (unchecked pairs are removed when a
        pair is nominated), without checking them as aioice would (that nominates)."""
        added = False
        for protocol in list(self._protocols):
            local = getattr(protocol, "local_candidate", None)
            if local is None:
                continue
            for remote in self._remote_candidates:
                if local.can_pair_with(remote) and not self._find_pair(protocol, remote):
                    self._check_list.append(CandidatePair(protocol, remote))
                    added = True
        if added:
            self.sort_check_list()

    def _lab_backup_candidates(self) -> list[CandidatePair]:
        """The pairs to keep warm now: not selected, no check of aioice's in flight, local
        socket still the host's (a pruned address's pairs left the check list)."""
        selected = set(map(id, self._nominated.values()))
        return [
            p for p in self._check_list
            if id(p) not in selected
            and (p.task is None or p.task.done())
            and p.protocol in self._protocols
        ]

    async def _lab_keep_backups_warm(self) -> None:
        interval = self._lab_backup_interval
        assert interval
        loop = asyncio.get_running_loop()
        # how often the backups are looked at: a pair not yet valid starts its check within this
        period = min(interval, 0.25)
        while not self._closing:
            self._lab_form_backup_pairs()
            now = loop.time()
            current = self._lab_backup_candidates()
            keep = set(map(id, self._check_list))
            for key in [k for k, b in self.lab_backups.items() if k not in keep or b.pair not in self._check_list]:
                gone = self.lab_backups.pop(key)
                if gone.ping is not None:
                    gone.ping.cancel()
            for pair in current:
                backup = self.lab_backup_for(pair) or BackupPair(pair)
                self.lab_backups[id(pair)] = backup
                if backup.ping is not None:
                    continue
                if backup.checked_at is None or now - backup.checked_at >= interval:
                    backup.ping = asyncio.ensure_future(self._lab_backup_check(backup))
            await asyncio.sleep(period)

    async def _lab_backup_check(self, backup: BackupPair) -> None:
        """One backup check: retransmitted at the check pace until answered (a pair not yet
        valid is pinged at `check_interval`), for at most `check_timeout`."""
        pair = backup.pair
        loop = asyncio.get_running_loop()
        backup.checked_at = loop.time()
        backup.checks += 1
        try:
            _, addr = await self._lab_paced_check(pair, self.build_request(pair, nominate=False))
        except (stun.TransactionError, ConnectionError, OSError):
            backup.answered_at = None
            if pair.task is None and pair.state != CandidatePair.State.FAILED and not pair.nominated:
                self.check_state(pair, CandidatePair.State.FAILED)
            return
        finally:
            backup.ping = None
        if addr != pair.remote_addr or pair not in self._check_list:
            backup.answered_at = None
            return
        backup.answered_at = loop.time()
        if pair.task is None or pair.task.done():
            pair.task = None
            if pair.state != CandidatePair.State.SUCCEEDED:
                self.check_state(pair, CandidatePair.State.SUCCEEDED)
            if backup.nominated_meanwhile and not self.ice_controlling:
                # the controlling side nominated it while our check was in flight
                backup.nominated_meanwhile = False
                pair.nominated = True
                self.check_complete(pair)

    def lab_backup_for(self, pair: CandidatePair) -> BackupPair | None:
        backup = self.lab_backups.get(id(pair))
        return backup if backup is not None and backup.pair is pair else None

    def _lab_best_backup(self, component: int) -> CandidatePair | None:
        valid = [
            b.pair for b in self.lab_backups.values()
            if b.answered_at is not None
            and b.pair.component == component
            and b.pair.state == CandidatePair.State.SUCCEEDED
            and b.pair in self._check_list
            and b.pair.protocol in self._protocols
        ]
        return max(
            valid,
            key=lambda p: candidate_pair_priority(p.local_candidate, p.remote_candidate, self.ice_controlling),
            default=None,
        )

    def _lab_nominate_backups(self) -> bool:
        """The selected pair went with its address: send on the best valid backup at once (it
        is known to work, as libwebrtc switches to a writable connection) and nominate it with
        one check. False when some component has no valid backup."""
        if not self._lab_backup_interval:
            return False
        chosen: dict[int, CandidatePair] = {}
        for component in sorted(self._components):
            if component in self._nominated:
                continue
            best = self._lab_best_backup(component)
            if best is None:
                return False
            chosen[component] = best
        if not chosen:
            return False
        for pair in chosen.values():
            self._nominated[pair.component] = pair
            if self.lab_on_nominated is not None:
                self.lab_on_nominated(pair)
        self._lab_nominating_backup = asyncio.ensure_future(
            self._lab_confirm_nominations(list(chosen.values()))
        )
        return True

    async def _lab_confirm_nominations(self, pairs: list[CandidatePair]) -> None:
        for pair in pairs:
            try:
                _, addr = await self._lab_paced_check(pair, self.build_request(pair, nominate=True))
            except (stun.TransactionError, ConnectionError, OSError):
                addr = None
            if addr != pair.remote_addr:
                # the backup stopped answering too: check every path left, as without backups
                if self._nominated.get(pair.component) is pair:
                    del self._nominated[pair.component]
                backup = self.lab_backup_for(pair)
                if backup is not None:
                    backup.answered_at = None
                self.check_state(pair, CandidatePair.State.FAILED)
                self._lab_check_all_again()
                return
            pair.nominated = True
