"""Media continuity at one receiver, from unit arrival times alone: freezes, outages, recovery.

Pure functions of sorted arrival instants (seconds, any one clock), so the same definitions apply
to the agents' `media_rx` events and to a packet capture (lab.experiment.pcap).

    freeze       an inter-arrival interval > max(150 ms + avg, 3 x avg), avg the mean of the
                 previous (up to 30) non-freeze intervals: libwebrtc's freeze rule. A silence still
                 going on when the observation ends is an unfinished freeze (ended = False).
    pre-fault    units received per second over the STEADY_S seconds before the fault
    rate
    steady       a unit starts steady flow when the units received in the second that starts with
                 it are at least RECOVERED_SHARE (90 %) of the pre-fault rate and no freeze begins in
                 that second (a burst of queued units followed by silence is not steady)
    outage       starts with the unit that opens the first freeze at or after the last unit
                 received before the fault, and ends with the first unit of steady flow after it
                 (a loss burst is one outage however many freezes it holds). After an outage
                 ended, the next freeze opens the next one.
    gap          the first outage: the media gap the fault caused
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FREEZE_WINDOW = 30
FREEZE_MIN_INTERVALS = 5
STEADY_S = 1.0
RECOVERED_SHARE = 0.9
PRE_FAULT_S = 2.0


@dataclass(frozen=True)
class Freeze:
    start: float  # the last unit before the silence
    duration_ms: float
    ended: bool = True


@dataclass(frozen=True)
class Outage:
    start: float  # the unit that opened it
    end: float  # the first unit of steady flow after it (NaN: not over when the observation ended)

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000.0 if math.isfinite(self.end) else math.nan


def freeze_threshold_ms(history: list[float]) -> float:
    recent = history[-FREEZE_WINDOW:]
    avg = sum(recent) / len(recent)
    return max(150.0 + avg, 3.0 * avg)


def freezes(arrivals: np.ndarray, t_end: float | None = None) -> list[Freeze]:
    """Every freeze (libwebrtc's rule), plus the silence from the last unit to t_end when that
    silence is already a freeze (an unfinished one)."""
    times = np.sort(np.asarray(arrivals, dtype=float))
    history: list[float] = []
    found: list[Freeze] = []
    for start, interval in zip(times[:-1], np.diff(times) * 1000.0, strict=False):
        if len(history) >= FREEZE_MIN_INTERVALS and interval > freeze_threshold_ms(history):
            found.append(Freeze(float(start), float(interval)))
            continue
        history.append(float(interval))
    if t_end is not None and len(times) and len(history) >= FREEZE_MIN_INTERVALS:
        trailing = (t_end - times[-1]) * 1000.0
        if trailing > freeze_threshold_ms(history):
            found.append(Freeze(float(times[-1]), trailing, ended=False))
    return found


def pre_fault_rate(arrivals: np.ndarray, t_fault: float) -> float:
    """Units per second received in the PRE_FAULT_S before the fault (or since the first unit)."""
    times = np.asarray(arrivals, dtype=float)
    before = times[times <= t_fault]
    if len(before) < 2:
        return math.nan
    span = min(PRE_FAULT_S, t_fault - float(before[0]))
    if span <= 0:
        return math.nan
    return float(np.sum(before > t_fault - span)) / span


def steady_from(arrivals: np.ndarray, after: float, rate: float, t_end: float,
                freeze_starts: np.ndarray | None = None) -> float:
    """The first unit after `after` that starts a second of steady flow, which must fit in the
    observation (NaN if none)."""
    times = np.sort(np.asarray(arrivals, dtype=float))
    need = math.ceil(RECOVERED_SHARE * rate * STEADY_S - 1e-9)
    starts = np.flatnonzero(times > after)
    if not len(starts):
        return math.nan
    ends = np.searchsorted(times, times[starts] + STEADY_S, side="left")
    ok = ((ends - starts) >= need) & (times[starts] + STEADY_S <= t_end)
    if freeze_starts is not None and len(freeze_starts):
        frozen = np.sort(np.asarray(freeze_starts, dtype=float))
        first = np.searchsorted(frozen, times[starts], side="left")
        last = np.searchsorted(frozen, times[starts] + STEADY_S, side="left")
        ok &= last == first
    hits = np.flatnonzero(ok)
    return float(times[starts[hits[0]]]) if len(hits) else math.nan


def steady_between(arrivals: np.ndarray, after: float, before: float, rate: float,
                   freeze_starts: np.ndarray | None = None) -> bool:
    """Whether a whole second of steady flow began after `after` and ended by `before`."""
    return before > after and math.isfinite(steady_from(arrivals, after, rate, before, freeze_starts))


def outages(arrivals: np.ndarray, t_fault: float, t_end: float) -> list[Outage]:
    """The outages from the fault to the end of the observation, in order."""
    times = np.sort(np.asarray(arrivals, dtype=float))
    before = times[times <= t_fault]
    rate = pre_fault_rate(times, t_fault)
    if not len(before) or not math.isfinite(rate):
        return []
    listed = freezes(times, t_end)
    starts = np.array([f.start for f in listed])
    found: list[Outage] = []
    cursor = float(before[-1])
    while True:
        opening = next((f for f in listed if f.start >= cursor), None)
        if opening is None:
            return found
        end = steady_from(times, opening.start, rate, t_end, starts)
        found.append(Outage(opening.start, end))
        if not math.isfinite(end):
            return found
        cursor = end
