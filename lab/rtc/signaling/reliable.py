"""End-to-end reliable, ordered delivery of signaling messages over a lossy frame path.

Every message a sender emits gets a sequence number within the sender's incarnation (one per
client object, so it survives reconnects); its id is "<incarnation>:<seq>". The receiver
delivers in sequence order, holds early frames until the gap fills, drops duplicates by id and
acknowledges cumulatively. The sender keeps unacknowledged messages and sends them again on a
timer and whenever a path comes back (reconnect, peer rejoined): nothing queued is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("lab.rtc.signaling")

Frame = dict[str, Any]


@dataclass
class _Outgoing:
    frame: Frame
    last_sent: float = 0.0
    attempts: int = 0


@dataclass
class ReliabilityStats:
    sent: int = 0
    retransmitted: int = 0
    delivered: int = 0
    duplicates_dropped: int = 0
    held_out_of_order: int = 0
    acks_sent: int = 0


@dataclass
class _InboundState:
    incarnation: str
    delivered: int = 0
    early: dict[int, Frame] = field(default_factory=dict)


class ReliableSession:
    """One endpoint's send and receive state. `transmit` hands a frame to the (unreliable) path."""

    def __init__(
        self,
        peer: str,
        transmit: Callable[[Frame], None],
        deliver: Callable[[Frame], None],
        *,
        retransmit_s: float = 0.5,
        max_retransmit_s: float = 4.0,
    ) -> None:
        self.peer = peer
        self.incarnation = secrets.token_hex(4)
        self._transmit = transmit
        self._deliver = deliver
        self._rto = retransmit_s
        self._max_rto = max_retransmit_s
        self._next_seq = 1
        self._unacked: dict[int, _Outgoing] = {}
        self._inbound: dict[str, _InboundState] = {}
        self._retired: set[tuple[str, str]] = set()
        self._timer: asyncio.Task[None] | None = None
        self.stats = ReliabilityStats()

    @property
    def unacked(self) -> int:
        return len(self._unacked)

    def start(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(self._retransmit_loop())

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None

    def send(self, body: dict[str, Any]) -> str:
        seq = self._next_seq
        self._next_seq += 1
        msg_id = f"{self.incarnation}:{seq}"
        frame: Frame = {"t": "msg", "src": self.peer, "inc": self.incarnation, "seq": seq, "id": msg_id, "body": body}
        out = _Outgoing(frame)
        self._unacked[seq] = out
        self.stats.sent += 1
        self._push(out)
        return msg_id

    def resend_unacked(self) -> None:
        """The path came back: send every unacknowledged message again, in order."""
        for seq in sorted(self._unacked):
            out = self._unacked[seq]
            out.attempts = 0
            self.stats.retransmitted += 1
            self._push(out)

    def on_frame(self, frame: Frame) -> None:
        kind = frame.get("t")
        if kind == "ack":
            self._on_ack(frame)
        elif kind == "msg":
            self._on_msg(frame)

    def _push(self, out: _Outgoing) -> None:
        out.last_sent = time.monotonic()
        out.attempts += 1
        # everything below base was acknowledged: a receiver that starts fresh begins there
        out.frame["base"] = min(self._unacked, default=out.frame["seq"])
        self._transmit(out.frame)

    def _on_ack(self, frame: Frame) -> None:
        if frame.get("for") != self.incarnation:
            return
        upto = int(frame.get("ack", 0))
        for seq in [s for s in self._unacked if s <= upto]:
            del self._unacked[seq]

    def _on_msg(self, frame: Frame) -> None:
        src, inc, seq = str(frame.get("src")), str(frame.get("inc")), int(frame.get("seq", 0))
        if (src, inc) in self._retired:
            return
        state = self._inbound.get(src)
        if state is None or state.incarnation != inc:
            if state is not None:
                # the remote client object was replaced (process restart): a new sequence space
                self._retired.add((src, state.incarnation))
                log.info("signaling: %s restarted (incarnation %s -> %s)", src, state.incarnation, inc)
            state = _InboundState(inc)
            self._inbound[src] = state
        self._skip_acknowledged(state, int(frame.get("base", 1)))
        if seq <= state.delivered or seq in state.early:
            self.stats.duplicates_dropped += 1
            log.debug("signaling: duplicate %s from %s dropped", frame.get("id"), src)
        elif seq == state.delivered + 1:
            self._deliver_in_order(state, frame)
        else:
            state.early[seq] = frame
            self.stats.held_out_of_order += 1
        self._ack(src, state)

    def _skip_acknowledged(self, state: _InboundState, base: int) -> None:
        """The sender holds nothing below base: it was delivered to an earlier us (we restarted)."""
        if base - 1 <= state.delivered:
            return
        state.delivered = base - 1
        for seq in [s for s in state.early if s <= state.delivered]:
            del state.early[seq]
        nxt = state.early.pop(state.delivered + 1, None)
        if nxt is not None:
            self._deliver_in_order(state, nxt)

    def _deliver_in_order(self, state: _InboundState, frame: Frame) -> None:
        while True:
            state.delivered += 1
            self.stats.delivered += 1
            try:
                self._deliver(frame)
            except Exception:  # one bad consumer must not stall the session
                log.exception("signaling: consumer failed on %s", frame.get("id"))
            nxt = state.early.pop(state.delivered + 1, None)
            if nxt is None:
                return
            frame = nxt

    def _ack(self, src: str, state: _InboundState) -> None:
        self.stats.acks_sent += 1
        self._transmit({"t": "ack", "src": self.peer, "to": src, "for": state.incarnation, "ack": state.delivered})

    async def _retransmit_loop(self) -> None:
        tick = max(0.02, self._rto / 4)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for seq in sorted(self._unacked):
                out = self._unacked.get(seq)
                if out is None:
                    continue
                rto = min(self._max_rto, self._rto * (2 ** max(0, out.attempts - 1)))
                if now - out.last_sent >= rto:
                    self.stats.retransmitted += 1
                    self._push(out)
