"""The channel a negotiator talks through: send(dict), and a "message" event per inbound dict.

Two implementations share the reliability layer: SignalingClient (WebSocket to a real server)
and the in-memory pair below (for tests, with the same impairments and outages).
"""

from __future__ import annotations

import time
from typing import Any

from pyee.asyncio import AsyncIOEventEmitter

from lab.rtc.signaling.impairments import ImpairedPath, LinkClock, SignalingImpairments
from lab.rtc.signaling.reliable import Frame, ReliableSession


class SignalingChannel(AsyncIOEventEmitter):
    """Events: "message" (dict body, in order, once each), "state" ({"event": "signaling", ...})."""

    peer: str
    session: ReliableSession

    def send(self, message: dict[str, Any]) -> str:
        """Queue a message for the other peer; returns its id. Never loses it while open."""
        return self.session.send(message)

    def _deliver(self, frame: Frame) -> None:
        self.emit("message", frame["body"])

    def _state(self, state: str, **extra: Any) -> None:
        self.emit("state", {"event": "signaling", "peer": self.peer, "state": state, "t": time.monotonic(), **extra})


class MemoryChannel(SignalingChannel):
    """One end of an in-process channel pair; frames cross an ImpairedPath to the other end."""

    def __init__(self, peer: str, clock: LinkClock, impairments: SignalingImpairments, retransmit_s: float) -> None:
        super().__init__()
        self.peer = peer
        self._clock = clock
        self.session = ReliableSession(peer, self._transmit, self._deliver, retransmit_s=retransmit_s, max_retransmit_s=1.0)
        self.path = ImpairedPath(impairments, self._to_other, clock)
        self._other: MemoryChannel | None = None

    def _transmit(self, frame: Frame) -> None:
        self.path.send(frame)

    def _to_other(self, frame: Frame) -> None:
        if self._other is not None:
            self._other.session.on_frame(frame)

    async def close(self) -> None:
        self.path.cancel()
        await self.session.stop()


class MemoryChannelPair:
    """Two connected MemoryChannels; `a_to_b` impairs frames a sends, `b_to_a` those b sends."""

    def __init__(
        self,
        a_to_b: SignalingImpairments | None = None,
        b_to_a: SignalingImpairments | None = None,
        *,
        names: tuple[str, str] = ("a", "b"),
        retransmit_s: float = 0.2,
    ) -> None:
        a_to_b = a_to_b or SignalingImpairments()
        b_to_a = b_to_a or SignalingImpairments(seed=a_to_b.seed + 1)
        self.clock = LinkClock(a_to_b.outages + b_to_a.outages)
        self.a = MemoryChannel(names[0], self.clock, a_to_b, retransmit_s)
        self.b = MemoryChannel(names[1], self.clock, b_to_a, retransmit_s)
        self.a._other, self.b._other = self.b, self.a

    def start(self) -> None:
        self.clock.restart()
        self.a.session.start()
        self.b.session.start()

    def begin_outage(self, duration_s: float | None = None) -> None:
        self.clock.begin_outage(duration_s)
        for ch in (self.a, self.b):
            ch._state("down", reason="outage")

    def end_outage(self) -> None:
        self.clock.end_outage()
        for ch in (self.a, self.b):
            ch._state("up")
            ch.session.resend_unacked()

    async def close(self) -> None:
        await self.a.close()
        await self.b.close()
