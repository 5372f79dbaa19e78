"""Message-layer impairments of a signaling link: delay, jitter, drop, duplicate, reorder, outages.

They act on whole signaling frames (not packets), at the client side of the link, with a seeded
RNG so that a run can be repeated exactly. An outage makes the link dead: no frame passes and the
WebSocket client drops its connection and cannot reconnect until the window ends.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class OutageWindow(BaseModel):
    """The link is dead from start_s to start_s + duration_s (seconds since the link started)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


class SignalingImpairments(BaseModel):
    """What happens to each signaling frame in one direction (or both) of a link."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delay_ms: float = Field(default=0.0, ge=0, description="fixed one-way delay per frame")
    jitter_ms: float = Field(default=0.0, ge=0, description="uniform +- jitter added to the delay")
    drop: float = Field(default=0.0, ge=0, le=1, description="probability a frame is lost")
    duplicate: float = Field(default=0.0, ge=0, le=1, description="probability a frame arrives twice")
    reorder: float = Field(default=0.0, ge=0, le=1, description="probability a frame is held back")
    reorder_hold_ms: float = Field(
        default=30.0, gt=0, description="extra delay of a held-back frame, so later frames overtake it"
    )
    outages: tuple[OutageWindow, ...] = Field(default=(), description="windows when the link is dead")
    seed: int = Field(default=0, description="seed of the RNG that decides each frame's fate")

    @model_validator(mode="after")
    def _drop_not_certain(self) -> SignalingImpairments:
        if self.drop >= 1.0:
            raise ValueError("drop must be below 1: a link that loses every frame never delivers")
        return self

    @property
    def is_clean(self) -> bool:
        return (
            self.delay_ms == 0
            and self.jitter_ms == 0
            and self.drop == 0
            and self.duplicate == 0
            and self.reorder == 0
            and not self.outages
        )


class LinkClock:
    """Tells whether a link is dead right now: inside a configured window or a manual outage."""

    def __init__(self, outages: tuple[OutageWindow, ...] = ()) -> None:
        self._outages = outages
        self._origin = time.monotonic()
        self._manual_until: float | None = None
        self._manual_open = False

    def restart(self) -> None:
        self._origin = time.monotonic()

    def begin_outage(self, duration_s: float | None = None) -> None:
        """Kill the link now, for duration_s seconds or until end_outage()."""
        if duration_s is None:
            self._manual_open = True
        else:
            self._manual_until = time.monotonic() + duration_s

    def end_outage(self) -> None:
        self._manual_open = False
        self._manual_until = None

    def dead(self) -> bool:
        now = time.monotonic()
        if self._manual_open or (self._manual_until is not None and now < self._manual_until):
            return True
        since = now - self._origin
        return any(w.start_s <= since < w.end_s for w in self._outages)

    def seconds_until_alive(self) -> float:
        """0 when alive; otherwise how long the current outage still lasts (inf if open-ended)."""
        if not self.dead():
            return 0.0
        if self._manual_open:
            return float("inf")
        now = time.monotonic()
        waits = [self._manual_until - now] if self._manual_until and now < self._manual_until else []
        since = now - self._origin
        waits += [w.end_s - since for w in self._outages if w.start_s <= since < w.end_s]
        return max(waits, default=0.0)


class ImpairedPath:
    """Passes frames to `deliver` after applying one direction's impairments."""

    def __init__(
        self,
        impairments: SignalingImpairments,
        deliver: Callable[[Any], None],
        clock: LinkClock,
        rng: random.Random | None = None,
    ) -> None:
        self.impairments = impairments
        self._deliver = deliver
        self._clock = clock
        self._rng = rng or random.Random(impairments.seed)
        self._handles: set[asyncio.TimerHandle] = set()
        self.stats = {"passed": 0, "dropped": 0, "duplicated": 0, "held": 0, "lost_in_outage": 0}

    def send(self, frame: Any) -> None:
        imp = self.impairments
        if self._clock.dead():
            self.stats["lost_in_outage"] += 1
            return
        if imp.is_clean:
            self.stats["passed"] += 1
            self._deliver(frame)
            return
        rng = self._rng
        if imp.drop and rng.random() < imp.drop:
            self.stats["dropped"] += 1
            return
        copies = 1
        if imp.duplicate and rng.random() < imp.duplicate:
            copies = 2
            self.stats["duplicated"] += 1
        for _ in range(copies):
            delay_ms = imp.delay_ms + (rng.uniform(-imp.jitter_ms, imp.jitter_ms) if imp.jitter_ms else 0.0)
            if imp.reorder and rng.random() < imp.reorder:
                delay_ms += imp.reorder_hold_ms
                self.stats["held"] += 1
            self._schedule(max(0.0, delay_ms) / 1000.0, frame)

    def _schedule(self, delay_s: float, frame: Any) -> None:
        loop = asyncio.get_running_loop()
        if delay_s == 0:
            self.stats["passed"] += 1
            self._deliver(frame)
            return
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._handles.discard(handle)
            # a frame in flight when the link dies is lost with it
            if self._clock.dead():
                self.stats["lost_in_outage"] += 1
                return
            self.stats["passed"] += 1
            self._deliver(frame)

        handle = loop.call_later(delay_s, fire)
        self._handles.add(handle)

    def cancel(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
