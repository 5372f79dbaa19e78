"""Watching a trial after its fault: when to stop observing.

Every trial, whatever its policy or its peers' states, is watched until media flows steadily
again at every receiver (and any restart under way reached its new pair), or until `recover_s`
after the fault has fully ended (the blackhole lifted, the handover's break). A peer's 'failed'
is not final (browsers and lab.rtc recover from it when the path returns); only 'closed' at every
peer ends the observation early. The metrics (lab.experiment.metrics) then judge what happened
inside that window, and the trial records how long it was (`observed_ms`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lab.experiment import continuity

STEADY_GAP_S = 0.2  # an inter-arrival longer than this restarts the "steady media" clock
# after recover_s, a little more so that a recovery at the edge of the window can show a steady second
STEADY_MARGIN_S = 1.2
POLL_S = 0.05
# stop only when the metrics' rule already held this long ago and the media still flows now, so
# that the same rule applied to the wire's slightly different stamps still finds it
MARGIN_S = 0.1


@dataclass
class Flow:
    """Live view of the media arriving at one receiver."""

    count: int = 0
    last_rx: float = math.nan
    steady_since: float = math.nan
    arrivals: list[float] = field(default_factory=list)

    def arrival(self, t: float) -> None:
        if self.count == 0 or t - self.last_rx > STEADY_GAP_S:
            self.steady_since = t
        self.count += 1
        self.last_rx = t
        self.arrivals.append(t)

    def steady_again(self, t_fault: float, now: float) -> bool:
        """The metrics' own rule (lab.experiment.continuity), as if the observation ended now:
        every outage since the fault ended in a second of steady flow."""
        found = continuity.outages(np.asarray(self.arrivals), t_fault, now)
        return not found or math.isfinite(found[-1].end)


@dataclass
class Observer:
    """What the orchestrator learns from the agents' events while a trial runs."""

    receivers: tuple[str, ...]
    # through an SFU each peer's leg is its own ICE session: a restart waits for its own leg's pair
    per_leg: bool = False
    flows: dict[str, Flow] = field(init=False)
    last_restart: float = -math.inf
    leg_restart: dict[str, float] = field(default_factory=lambda: {"offerer": -math.inf, "answerer": -math.inf})
    last_pair: dict[str, float] = field(default_factory=lambda: {"offerer": -math.inf, "answerer": -math.inf})
    connection_state: dict[str, str] = field(default_factory=lambda: {"offerer": "new", "answerer": "new"})
    # the newest RTCPeerConnection per peer (a full reconnect closes the old one: not the end)
    connection_generation: dict[str, int] = field(default_factory=lambda: {"offerer": 0, "answerer": 0})
    fault_steps: list[float] = field(default_factory=list)
    stopped_because: str | None = None

    def __post_init__(self) -> None:
        self.flows = {role: Flow() for role in self.receivers}

    def on_event(self, role: str, kind: str | None, record: dict[str, Any]) -> None:
        if kind == "media_rx" and role in self.flows:
            self.flows[role].arrival(float(record["t"]))
        elif kind == "restart":
            self.last_restart = max(self.last_restart, float(record["t"]))
            self.leg_restart[role] = max(self.leg_restart.get(role, -math.inf), float(record["t"]))
        elif kind in ("connection_state", "pc_replaced"):
            generation = record.get("gen")
            generation = generation if isinstance(generation, int) else self.connection_generation.get(role, 0)
            if generation < self.connection_generation.get(role, 0):
                return  # the old connection of a full reconnect
            self.connection_generation[role] = generation
            self.connection_state[role] = str(record.get("state")) if kind == "connection_state" else "new"
        elif kind == "selected_pair":
            self.last_pair[role] = max(self.last_pair[role], float(record["t"]))

    def flowing(self, units: int) -> bool:
        return all(f.count >= units for f in self.flows.values())

    def recovered(self, now: float, t_fault_end: float, observe_s: float, settle_s: float,
                  t_fault: float | None = None) -> bool:
        if now - t_fault_end < observe_s:
            return False
        if self.per_leg:
            if any(pair < self.leg_restart.get(role, -math.inf) for role, pair in self.last_pair.items()):
                return False  # a leg's restart is still under way: observe it to its new pair
        elif any(p < self.last_restart for p in self.last_pair.values()):
            return False  # a restart is still under way: observe it to its new pair
        if not all(f.last_rx > t_fault_end and now - f.last_rx < STEADY_GAP_S
                   and now - f.steady_since >= settle_s for f in self.flows.values()):
            return False
        if t_fault is None:
            return True
        return all(now - f.last_rx < MARGIN_S and f.steady_again(t_fault, now - MARGIN_S)
                   for f in self.flows.values())

    def closed(self) -> bool:
        return all(state == "closed" for state in self.connection_state.values())

    async def watch(self, t_fault_end: Callable[[], float], recover_s: float, observe_s: float,
                    settle_s: float, check: Callable[[], None], t_fault: float | None = None) -> None:
        """Until recovered, or recover_s (+ a steady second) after the fault's end, or closed."""
        while True:
            end = t_fault_end()
            now = time.monotonic()
            if self.recovered(now, end, observe_s, max(settle_s, continuity.STEADY_S), t_fault):
                self.stopped_because = "media steady again"
                return
            if now >= end + recover_s + STEADY_MARGIN_S:
                self.stopped_because = f"window over ({recover_s:g} s after the fault ended)"
                return
            if self.closed():
                self.stopped_because = "every peer connection closed"
                return
            check()
            await asyncio.sleep(POLL_S)

