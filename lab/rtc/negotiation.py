"""Perfect negotiation (W3C pattern; seeds 000 and 004) over a signaling channel.

One peer is polite, the other impolite, fixed for the whole session (kept across signaling
reconnects and ICE restarts). On an offer collision ("glare") the polite peer rolls its own offer
back implicitly and answers; the impolite peer ignores the colliding offer, keeps its own and
swallows the candidates of the offer it ignored. The roles are exchanged in a hello, so a pair
configured with two polite or two impolite peers is reported at once instead of deadlocking.

Every decision is logged in the shape of seed 004 ("[peer-polite] inbound offer collision ->
implicit rollback -> setRemoteDescription ok") and emitted as a machine-readable "event" dict.

Channel messages (dicts): {"hello": {...}}, {"description": {"type", "sdp"}}, {"candidate": {...}};
each also carries "role", "session" (the negotiator's session token) and "nid" (its message id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from aiortc import RTCIceCandidate, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp, candidate_to_sdp
from pyee.asyncio import AsyncIOEventEmitter

log = logging.getLogger("lab.rtc.negotiation")

POLITE = "polite"
IMPOLITE = "impolite"


class Channel(Protocol):
    """What the negotiator needs from signaling: send a dict, and "message" events of dicts."""

    def send(self, message: dict[str, Any]) -> Any: ...

    def on(self, event: str, f: Callable[..., Any]) -> Any: ...

    def remove_listener(self, event: str, f: Any) -> Any: ...


class RoleConflictError(RuntimeError):
    """Both peers were configured with the same role; negotiation cannot resolve glare."""


def _ufrag_of(sdp: str) -> str | None:
    m = re.search(r"^a=ice-ufrag:(\S+)", sdp, re.MULTILINE)
    return m.group(1) if m else None


def candidate_to_message(candidate: RTCIceCandidate, username_fragment: str | None = None) -> dict[str, Any]:
    """An aiortc candidate as RTCIceCandidateInit-shaped dict."""
    return {
        "candidate": "candidate:" + candidate_to_sdp(candidate),
        "sdpMid": candidate.sdpMid,
        "sdpMLineIndex": candidate.sdpMLineIndex,
        "usernameFragment": username_fragment,
    }


def candidate_from_message(init: dict[str, Any]) -> RTCIceCandidate | None:
    """RTCIceCandidateInit dict -> aiortc candidate; None for end-of-candidates."""
    text = str(init.get("candidate") or "")
    if not text:
        return None
    candidate = candidate_from_sdp(text.removeprefix("candidate:"))
    candidate.sdpMid = init.get("sdpMid")
    candidate.sdpMLineIndex = init.get("sdpMLineIndex")
    if init.get("usernameFragment"):
        # lab.rtc's peer ignores candidates of an ICE generation that is not current
        candidate.usernameFragment = init["usernameFragment"]  # type: ignore[attr-defined]
    return candidate


class PerfectNegotiator(AsyncIOEventEmitter):
    """Runs perfect negotiation for one RTCPeerConnection (lab.rtc's restartable one).

    The pc must offer: "negotiationneeded" (pyee event), signalingState, localDescription,
    setLocalDescription() without arguments, setRemoteDescription() with implicit rollback of a
    local offer, addIceCandidate(). Emits "event" with dicts {"event", "peer", "role", "t", ...}
    (t is time.monotonic()); errors are reported as such events, never raised from a handler:
      negotiationneeded                                 an offer is being made
      description_sent      type                        offer or answer sent
      description_applied   type                        remote offer/answer applied (no collision)
      glare                 action=ignore_offer | implicit_rollback, signaling_state, making_offer
      candidate_swallowed   reason                      a candidate of an ignored offer
      signaling_state       state                       the pc's signalingState changed
      role_conflict         action=reported, reason     both peers have the same role
      offer_unanswered      after_s                     our offer got no answer in that time
      error                 where, error_type, error    a failed operation (InvalidStateError...)
    """

    def __init__(
        self,
        pc: Any,
        channel: Channel,
        *,
        polite: bool,
        name: str | None = None,
        logger: logging.Logger | None = None,
        unanswered_warning_s: float = 5.0,
    ) -> None:
        super().__init__()
        self.pc = pc
        self.unanswered_warning_s = unanswered_warning_s
        self.channel = channel
        self._polite = polite
        self.name = name or f"peer-{self.role}"
        self.log = logger or log
        self.session = secrets.token_hex(4)
        self.making_offer = False
        self.ignore_offer = False
        self._ignored_ufrag: str | None = None
        self._ops = asyncio.Lock()
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._nid = 0
        self._seen: set[str] = set()
        self._remote_roles: dict[str, str] = {}
        self._remote_ready: asyncio.Future[str] | None = None
        self._busy = 0
        self.role_error: str | None = None
        self.counters = {
            "offers_sent": 0,
            "answers_sent": 0,
            "offers_received": 0,
            "answers_received": 0,
            "offers_ignored": 0,
            "implicit_rollbacks": 0,
            "candidates_swallowed": 0,
            "duplicates_dropped": 0,
            "invalid_state_errors": 0,
            "errors": 0,
        }
        self.errors: list[str] = []

    # ----- public API -------------------------------------------------------------------

    @property
    def polite(self) -> bool:
        return self._polite

    @property
    def role(self) -> str:
        return POLITE if self._polite else IMPOLITE

    @property
    def idle(self) -> bool:
        """Nothing in flight here: stable, not making an offer, no unprocessed message."""
        session = getattr(self.channel, "session", None)
        return (
            self.pc.signalingState == "stable"
            and not self.making_offer
            and self._busy == 0
            and self._inbox.empty()
            and (session is None or session.unacked == 0)
        )

    def start(self) -> None:
        """Attach to the pc and the channel and send our hello (roles are checked on arrival)."""
        loop = asyncio.get_running_loop()
        self._remote_ready = loop.create_future()
        self.pc.on("negotiationneeded", self._on_negotiationneeded)
        self.pc.on("signalingstatechange", self._on_signalingstatechange)
        self.pc.on("icecandidate", self._on_local_candidate)
        self.channel.on("message", self._on_channel_message)
        self._worker = loop.create_task(self._process_inbox(), name=f"negotiator-{self.name}")
        self._send({"hello": {"name": self.name}})

    async def ready(self, timeout: float | None = None) -> str:
        """Wait for the remote hello; returns its role, raises RoleConflictError on a clash."""
        assert self._remote_ready is not None, "start() first"
        return await asyncio.wait_for(asyncio.shield(self._remote_ready), timeout)

    async def close(self) -> None:
        self.pc.remove_listener("negotiationneeded", self._on_negotiationneeded)
        self.pc.remove_listener("signalingstatechange", self._on_signalingstatechange)
        self.pc.remove_listener("icecandidate", self._on_local_candidate)
        self.channel.remove_listener("message", self._on_channel_message)
        tasks = [t for t in (self._worker, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._remote_ready is not None and not self._remote_ready.done():
            self._remote_ready.cancel()

    def send_candidate(self, candidate: RTCIceCandidate | None) -> None:
        """Trickle one local candidate (None: end of candidates) to the other peer."""
        local = self.pc.localDescription
        # a trickled candidate names its own ICE generation (it may not be the described one)
        ufrag = getattr(candidate, "usernameFragment", None) or (
            _ufrag_of(local.sdp) if local is not None else None
        )
        init = candidate_to_message(candidate, ufrag) if candidate is not None else {"candidate": "", "usernameFragment": ufrag}
        self._send({"candidate": init})

    def send_local_description(self) -> None:
        """Send the pc's local description as it stands, for an app that made its own offer (the
        legacy `createOffer({iceRestart: true})` path) outside the negotiationneeded flow."""
        desc = self.pc.localDescription
        if desc is None:
            raise RuntimeError("no local description to send")
        self._send({"description": {"type": desc.type, "sdp": desc.sdp}})

    # ----- outbound ---------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        self._nid += 1
        message = {**message, "role": self.role, "session": self.session, "nid": f"{self.session}:{self._nid}"}
        self.channel.send(message)

    def _emit_event(self, event: str, **facts: Any) -> None:
        self.emit("event", {"event": event, "peer": self.name, "role": self.role, "t": time.monotonic(), **facts})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_negotiationneeded(self, *_: Any) -> None:
        self._spawn(self._negotiate())

    async def _negotiate(self) -> None:
        self._busy += 1
        try:
            async with self._ops:
                state = self.pc.signalingState
                if state != "stable":
                    # W3C fires it again once back in stable; an offer now would be an answer
                    self.log.info("[%s] negotiationneeded in signalingState %s -> deferred", self.name, state)
                    return
                self.making_offer = True
                self.log.info("[%s] negotiationneeded -> setLocalDescription(offer)", self.name)
                self._emit_event("negotiationneeded")
                await self.pc.setLocalDescription()
                desc = self.pc.localDescription
                self._send({"description": {"type": desc.type, "sdp": desc.sdp}})
                self.counters["offers_sent" if desc.type == "offer" else "answers_sent"] += 1
                self._emit_event("description_sent", type=desc.type)
                if desc.type == "offer":
                    self._spawn(self._warn_if_unanswered(desc.sdp))
        except Exception as exc:
            self._report_error("negotiationneeded", exc)
        finally:
            self.making_offer = False
            self._busy -= 1

    async def _warn_if_unanswered(self, offer_sdp: str) -> None:
        """Diagnose a stalled offer (signaling down, or a peer that ignores us) once, loudly."""
        await asyncio.sleep(self.unanswered_warning_s)
        local = self.pc.localDescription
        if self.pc.signalingState == "have-local-offer" and local is not None and local.sdp == offer_sdp:
            self.log.warning(
                "[%s] offer unanswered for %.1f s -> signaling down or remote not negotiating",
                self.name, self.unanswered_warning_s,
            )
            self._emit_event("offer_unanswered", after_s=self.unanswered_warning_s)

    def _on_local_candidate(self, candidate: RTCIceCandidate | None = None, *_: Any) -> None:
        self.send_candidate(candidate)

    def _on_signalingstatechange(self, *_: Any) -> None:
        state = self.pc.signalingState
        self.log.debug("[%s] signalingState: %s", self.name, state)
        self._emit_event("signaling_state", state=state)

    # ----- inbound ----------------------------------------------------------------------

    def _on_channel_message(self, message: dict[str, Any]) -> None:
        self._inbox.put_nowait(message)

    async def _process_inbox(self) -> None:
        while True:
            message = await self._inbox.get()
            self._busy += 1
            try:
                await self._handle(message)
            except Exception as exc:  # the session goes on; the error is reported
                self._report_error("inbound", exc)
            finally:
                self._busy -= 1

    async def _handle(self, message: dict[str, Any]) -> None:
        nid = message.get("nid")
        if nid is not None:
            if nid in self._seen:
                self.counters["duplicates_dropped"] += 1
                self.log.debug("[%s] duplicate message %s dropped", self.name, nid)
                return
            self._seen.add(str(nid))
        if "hello" in message:
            self._on_hello(message)
        elif "description" in message:
            self._check_role(message)
            await self._on_description(message["description"])
        elif "candidate" in message:
            await self._on_candidate(message["candidate"] or {})

    async def _on_description(self, raw: dict[str, Any]) -> None:
        description = RTCSessionDescription(sdp=str(raw["sdp"]), type=str(raw["type"]))
        kind = description.type
        self.counters["offers_received" if kind == "offer" else "answers_received"] += 1
        # our own offer may be in flight right now (it holds the operations lock)
        making_offer = self.making_offer
        async with self._ops:
            state = self.pc.signalingState
            offer_collision = kind == "offer" and (making_offer or state != "stable")
            self.ignore_offer = not self._polite and offer_collision
            if self.ignore_offer:
                self._ignored_ufrag = _ufrag_of(description.sdp)
                self.counters["offers_ignored"] += 1
                why = "while making offer" if making_offer or state == "have-local-offer" else f"in signalingState {state}"
                self.log.info("[%s] inbound offer %s -> ignoreOffer=true (kept ours)", self.name, why)
                self._emit_event("glare", action="ignore_offer", signaling_state=state, making_offer=making_offer)
                return
            try:
                await self.pc.setRemoteDescription(description)
            except Exception as exc:
                self._report_description_error(kind, state, exc)
                return
            if offer_collision:
                self.counters["implicit_rollbacks"] += 1
                self.log.info("[%s] inbound offer collision -> implicit rollback -> setRemoteDescription ok", self.name)
                self._emit_event("glare", action="implicit_rollback", signaling_state=state, making_offer=making_offer)
            else:
                self.log.info("[%s] inbound %s -> setRemoteDescription ok", self.name, kind)
                self._emit_event("description_applied", type=kind)
            if kind == "offer":
                await self.pc.setLocalDescription()
                answer = self.pc.localDescription
                self._send({"description": {"type": answer.type, "sdp": answer.sdp}})
                self.counters["answers_sent"] += 1
                self.log.info("[%s] setLocalDescription(%s) -> sent", self.name, answer.type)
                self._emit_event("description_sent", type=answer.type)

    async def _on_candidate(self, init: dict[str, Any]) -> None:
        ufrag = init.get("usernameFragment")
        if self.ignore_offer and (ufrag is None or ufrag == self._ignored_ufrag):
            self._swallow_candidate("it belongs to the ignored offer")
            return
        try:
            candidate = candidate_from_message(init)
            if candidate is None and ufrag and not self._remote_generation(ufrag):
                # end-of-candidates of a generation the remote description no longer names:
                # it must not end the current one's candidates
                self.log.debug("[%s] end-of-candidates of old ICE generation %s dropped", self.name, ufrag)
                return
            await self.pc.addIceCandidate(candidate)
        except Exception as exc:
            if self.ignore_offer:
                self._swallow_candidate(f"{type(exc).__name__}: {exc}")
            else:
                self._report_error("addIceCandidate", exc)

    def _remote_generation(self, ufrag: str) -> bool:
        remote = self.pc.remoteDescription
        return remote is None or _ufrag_of(remote.sdp) == ufrag

    def _swallow_candidate(self, why: str) -> None:
        self.counters["candidates_swallowed"] += 1
        self.log.info("[%s] candidate while ignoreOffer=true -> swallowed (%s)", self.name, why)
        self._emit_event("candidate_swallowed", reason=why)

    # ----- roles ------------------------------------------------------------------------

    def _on_hello(self, message: dict[str, Any]) -> None:
        remote_session = str(message.get("session"))
        first_time = remote_session not in self._remote_roles
        self._check_role(message)
        if first_time:
            remote_name = (message.get("hello") or {}).get("name")
            self.log.info("[%s] hello from %s (%s)", self.name, remote_name, message.get("role"))
            # a peer that (re)started needs our role too
            self._send({"hello": {"name": self.name}})
        if self._remote_ready is not None and not self._remote_ready.done() and self.role_error is None:
            self._remote_ready.set_result(str(message.get("role")))

    def _check_role(self, message: dict[str, Any]) -> None:
        remote_role = message.get("role")
        remote_session = str(message.get("session"))
        if remote_role not in (POLITE, IMPOLITE):
            return
        previous = self._remote_roles.get(remote_session)
        self._remote_roles[remote_session] = remote_role
        if previous is not None and previous != remote_role:
            self._role_conflict(f"remote peer changed its role mid-session ({previous} -> {remote_role})")
        elif remote_role == self.role and self.role_error is None:
            self._role_conflict(f"remote peer is also {remote_role}")

    def _role_conflict(self, reason: str) -> None:
        self.role_error = reason
        self.log.error("[%s] role misconfiguration: %s", self.name, reason)
        if self._polite:
            self.log.error(
                "[both] polite=true -> both peers polite; colliding offers are both rolled back and "
                "answers hit stable (InvalidStateError), fix role assignment"
            )
        else:
            self.log.error("[both] ignoreOffer=true -> both peers impolite; negotiation deadlocks, fix role assignment")
        self._emit_event("role_conflict", action="reported", reason=reason)
        self.counters["errors"] += 1
        self.errors.append(f"role conflict: {reason}")
        if self._remote_ready is not None and not self._remote_ready.done():
            self._remote_ready.set_exception(RoleConflictError(f"{self.name}: {reason}"))
            self._remote_ready.exception()  # mark retrieved: ready() may never be awaited

    # ----- errors -----------------------------------------------------------------------

    def _report_description_error(self, kind: str, state: str, exc: Exception) -> None:
        if type(exc).__name__ == "InvalidStateError":
            self.counters["invalid_state_errors"] += 1
        self._report_error(f"setRemoteDescription({kind})", exc)
        if kind == "offer" and state == "have-local-offer":
            self.log.error(
                "[%s] Failed to set remote offer sdp: Called in wrong state: have-local-offer "
                "-> peer accepted a colliding offer without rollback; add the offerCollision guard",
                self.name,
            )
        elif kind == "answer" and state == "stable":
            self.log.error("[%s] answer arrived in signalingState stable -> stale or duplicate answer dropped", self.name)

    def _report_error(self, where: str, exc: Exception) -> None:
        self.counters["errors"] += 1
        text = f"{where}: {type(exc).__name__}: {exc}"
        self.errors.append(text)
        self.log.error("[%s] %s", self.name, text)
        self._emit_event("error", where=where, error_type=type(exc).__name__, error=str(exc))


async def wait_all_stable(
    negotiators: Iterable[PerfectNegotiator], timeout: float = 30.0, settle_s: float = 0.05, logger: logging.Logger | None = None
) -> float:
    """Wait until every negotiator is idle and stable (re-checked after settle_s); log "[both]".

    Returns the seconds waited. Raises TimeoutError naming each peer's state otherwise.
    """
    peers = list(negotiators)
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if all(n.idle for n in peers):
            await asyncio.sleep(settle_s)
            if all(n.idle for n in peers):
                (logger or log).info("[both] signalingState: stable")
                return time.monotonic() - start
        if time.monotonic() > deadline:
            states = ", ".join(f"{n.name}={n.pc.signalingState} making_offer={n.making_offer}" for n in peers)
            raise TimeoutError(f"negotiation did not settle within {timeout} s: {states}")
        await asyncio.sleep(0.01)
