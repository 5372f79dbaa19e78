"""An ICE generation: one aioice agent with its own ufrag/pwd, sockets and candidate pairs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aioice import Candidate
from aiortc.rtcicetransport import RTCIceCandidate, RTCIceParameters, candidate_to_aioice

from .ice_connection import LabIceConnection

logger = logging.getLogger(__name__)

# seconds a closing generation waits for its TURN allocations to be deleted
RELAY_DELETE_GRACE = 1.0

# (generation, local candidate) for each trickled candidate; (generation, None) at the end
CandidateAnnouncer = Callable[["IceGeneration", "Candidate | None"], None]


def candidate_key(candidate: Candidate) -> tuple[Any, ...]:
    return (candidate.component, candidate.type, candidate.host, candidate.port)


class IceGeneration:
    """Gathering, checks and teardown of one generation; knows nothing of the others."""

    def __init__(self, number: int, connection: LabIceConnection) -> None:
        self.number = number
        self.connection = connection
        self.remote: RTCIceParameters | None = None
        self.phase = "new"  # new -> checking -> connected | failed; any -> closed
        self.connected_at: float | None = None
        self._gathering: asyncio.Future[None] | None = None
        self._gathered = False
        self._close_task: asyncio.Task[None] | None = None
        self._lingering = False
        self._connect_task: asyncio.Future[None] | None = None
        # set when its checks are scheduled: from then on its remote credentials are fixed
        self.scheduled = False
        # trickle: candidates the remote side knows of (described or trickled), and whether
        # later ones are announced (from the first local description naming this generation)
        self.on_candidate: CandidateAnnouncer | None = None
        self.on_gathered: Callable[[IceGeneration], None] | None = None
        self._announced: set[tuple[Any, ...]] = set()
        self._announcing = False
        self._end_announced = False
        connection.lab_on_candidate = self._gathered_candidate

    def __repr__(self) -> str:
        return f"IceGeneration({self.number}, {self.local.usernameFragment}, {self.phase})"

    @property
    def local(self) -> RTCIceParameters:
        return RTCIceParameters(
            usernameFragment=self.connection.local_username,
            password=self.connection.local_password,
        )

    @property
    def gather_state(self) -> str:
        if self._gathered or self.connection.lab_gathered.is_set():
            return "completed"
        return "gathering" if self._gathering is not None else "new"

    @property
    def started(self) -> bool:
        """Checks are scheduled or running: it can no longer be paired with other credentials."""
        return self.scheduled or self.phase != "new"

    @property
    def closed(self) -> bool:
        return self._close_task is not None

    def matches_remote(self, params: RTCIceParameters) -> bool:
        return (
            self.remote is not None
            and self.remote.usernameFragment == params.usernameFragment
            and self.remote.password == params.password
        )

    def start_gathering(self) -> asyncio.Future[None]:
        if self._gathering is None:
            self._gathering = asyncio.ensure_future(self.connection.gather_candidates())
        return self._gathering

    async def gather(self) -> None:
        """Gather every candidate (host, then STUN/TURN)."""
        await asyncio.shield(self.start_gathering())
        self._gathered = True

    async def gather_host(self, until_any: bool = False) -> None:
        """Wait for the host candidates only. Under a relay-only policy there are none: a
        restart's description leaves without candidates and the relay candidate follows by
        trickle, so its offer and answer are exchanged while the Allocate is still under way
        (or its server still down) instead of one server round trip (or the outage) later.
        `until_any`: with no host candidate, wait for every candidate instead (the first
        generation: aiortc starts a connection's ICE only once it has a local candidate)."""
        gathering = self.start_gathering()
        await self.connection.lab_host_gathered.wait()
        if until_any and not self.connection.local_candidates:
            await asyncio.shield(gathering)
            self._gathered = True

    async def gather_for_description(self, trickle: bool) -> None:
        await (self.gather_host(until_any=self.number == 0) if trickle else self.gather())

    # trickle

    def _gathered_candidate(self, candidate: Candidate | None) -> None:
        if candidate is None and not self.closed and self.on_gathered is not None:
            self.on_gathered(self)
        self._local_candidate(candidate)

    def _local_candidate(self, candidate: Candidate | None) -> None:
        if self.closed:
            return
        if candidate is None:
            if self._announcing and not self._end_announced:
                self._end_announced = True
                if self.on_candidate is not None:
                    self.on_candidate(self, None)
            return
        if self._announcing and candidate_key(candidate) not in self._announced:
            self._announced.add(candidate_key(candidate))
            if self.on_candidate is not None:
                self.on_candidate(self, candidate)

    def announce_again(self) -> None:
        """Announce every local candidate again (continual gathering, after the selected
        pair's interface vanished: the remote checks them anew, which lets our checks through
        its NAT)."""
        if self.closed or not self._announcing or self.on_candidate is None:
            return
        for candidate in self.connection.local_candidates:
            self.on_candidate(self, candidate)

    def announce(self, described: list[Candidate], end_described: bool) -> None:
        """A local description named this generation with `described` candidates: announce
        the ones it missed now, and every later one as it is gathered (trickle ICE)."""
        self._announced.update(candidate_key(c) for c in described)
        self._end_announced = self._end_announced or end_described
        self._announcing = True
        for candidate in self.connection.local_candidates:
            self._local_candidate(candidate)
        if self.connection.lab_gathered.is_set():
            self._local_candidate(None)

    async def add_remote_candidate(self, candidate: RTCIceCandidate | None) -> None:
        """Add a remote candidate; quietly ignored once closed. One trickled after
        end-of-candidates (the remote gathers continually: a new interface) is still paired and
        checked; a repeated end-of-candidates is ignored."""
        if self.closed:
            return
        if self.connection._remote_candidates_end:
            if candidate is not None:
                remote = candidate_to_aioice(candidate)
                self.connection._add_remote_candidate(remote, remote.host)
                self.connection.lab_check_remote_again(remote.host, remote.port, remote.component)
            return
        await self.connection.add_remote_candidate(
            None if candidate is None else candidate_to_aioice(candidate)
        )
        if candidate is not None:
            remote = candidate_to_aioice(candidate)
            self.connection.lab_check_remote_again(remote.host, remote.port, remote.component)

    async def connect(self, remote: RTCIceParameters) -> bool:
        """Run the checks until a pair is nominated (True) or the check list fails (False)."""
        self.remote = remote
        self.phase = "checking"
        self.connection.remote_is_lite = remote.iceLite
        self.connection.remote_username = remote.usernameFragment
        self.connection.remote_password = remote.password
        # aioice's connect() notices a nominated pair only at its next 20 ms pacing tick;
        # the nomination itself is known at once, so cut over then
        self._connect_task = asyncio.ensure_future(self.connection.connect())
        nominated = asyncio.ensure_future(self.connection.lab_nominated.wait())
        try:
            await asyncio.wait({self._connect_task, nominated}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            nominated.cancel()
        task = self._connect_task
        if task.done() and (task.cancelled() or task.exception() is not None):
            if not self.closed:
                self.phase = "failed"
            return False
        if self.closed:
            return False
        self.phase = "connected"
        self.connected_at = asyncio.get_running_loop().time()
        return True

    def selected_pair(self) -> Any:
        if self.phase != "connected":
            return None
        return self.connection.lab_selected_pair()

    def close_later(self, delay: float) -> None:
        """Close after `delay` seconds in the background; idempotent."""
        if self._close_task is None:
            self.connection.lab_consent_enabled = False
            self._lingering = delay > 0
            self._close_task = asyncio.ensure_future(self._close_after(delay))

    async def close(self) -> None:
        """Close now (cutting a linger short) and wait until the sockets are closed."""
        if self._close_task is not None and self._lingering and not self._close_task.done():
            self._close_task.cancel()
            self._close_task = None
        if self._close_task is None:
            self.connection.lab_consent_enabled = False
            self._lingering = False
            self._close_task = asyncio.ensure_future(self._close_after(0))
        await asyncio.shield(self._close_task)

    async def _close_after(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        self._lingering = False
        self.phase = "closed"
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
            await asyncio.gather(self._connect_task, return_exceptions=True)
        closing = asyncio.ensure_future(self.connection.close())
        try:
            done, _ = await asyncio.wait({closing}, timeout=RELAY_DELETE_GRACE)
            if not done:
                # a dead TURN server never answers the deallocation (aioice would retry ~60 s)
                self.connection.lab_abandon_relays()
                await asyncio.wait_for(closing, timeout=2.0)
            else:
                closing.result()
        except Exception:  # a socket error while closing must not leak out of a background task
            logger.exception("closing ICE generation %s", self.number)
