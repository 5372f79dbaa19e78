"""Per-trial recovery metrics: pure functions of one trial's events (lab.experiment.events).

All times are CLOCK_MONOTONIC seconds shared by every process of the machine (see events.py);
durations are milliseconds. Definitions:

    t_fault          the orchestrator's `fault` event
    t_disconnected   first 'disconnected' (ICE or connection state, any peer) after t_fault
    t_failed         first 'failed' after t_fault
    t_network_change first interface/address event seen by a peer after t_fault
    t_detected       earliest of the three above
    t_restart        first `restart` (a policy acting) after t_fault
    t_offer          first offer sent after t_restart
    t_answer         first answer applied (at the offering side) after t_restart
    t_cut_over       per peer: its first selected-pair change after t_restart, the instant its ICE
                     transport starts sending on the restart's new pair
    t_new_pair       restart call -> new pair, per direction: a unit can reach a receiver over the
                     new pair only once its sender cut over, so t_new_pair is the SENDER's t_cut_over
                     of the direction whose media resumed last (the one that sets t_media_resumed).
                     Not simply the later peer's cut-over: the peers cut over at different
                     instants (the controlled side ~0.5 s after the controlling one), and a late
                     cut-over of the side whose media was already back is no part of the recovery.
                     Media not resumed in every direction: the later of the peers' cut-overs (the
                     restart done at both ends; NaN unless both cut over)
    t_connected      first 'connected' connection state after t_fault
    t_media_resumed  per receiver: arrival of the first unit after the largest inter-arrival gap
                     that starts with the last unit received before the fault; the trial's value
                     is the later of the receivers (media flows both ways again)
    detection_ms     t_detected - t_fault
    decision_ms      t_restart - t_detected (the policy's grace)
    restart_ms       t_new_pair - t_restart (restart call -> new pair)
    signaling_ms     t_answer - t_restart
    checks_ms        t_new_pair - t_answer
    first_media_ms   t_media_resumed - t_new_pair: the new pair's first unit's trip. NaN when that
                     direction's media resumed BEFORE its sender cut over: the media came back on the
                     old path (a transient outage ended, make-before-break) and the new pair had no
                     part in it; restart_ms and checks_ms then still time the restart, which
                     completed after the recovery (lab.analysis clamps such phases to the recovery).
                     This includes a restart from 'failed' after the outage ended: lab.rtc drops
                     sends only while 'failed', and a side leaves 'failed' for 'checking' as soon
                     as it has applied the restart's remote description, so its media goes out on
                     the old (alive again) pair until its own cut-over (media_rx `generation` shows it)

    For a restart that brings media back (t_detected <= t_restart <= t_answer <= t_new_pair <=
    t_media_resumed) the phases detection, decision, signaling, checks and first media are
    non-negative and add up to recovery_ms exactly.
    recovery_ms      t_media_resumed - t_fault
    media_gap_ms     largest of the receivers' gaps (last unit before -> first unit after)
    units_lost       units sent inside the gaps and never received (both directions)
    units_lost_total every unit sent and never received, over the whole trial (both directions;
                     units sent in the last second of the observation count as in flight)
    freezes          gaps > max(150 ms + avg, 3 x avg) (libwebrtc's freeze), avg = mean of the
                     previous (up to 30) non-freeze inter-arrival intervals; both receivers
    recovered        media resumed at every receiver within recover_s of the fault and kept
                     flowing to the end of the observation
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lab.experiment.events import PEERS

NAN = math.nan
FREEZE_WINDOW = 30
FREEZE_MIN_INTERVALS = 5


@dataclass
class DirectionMetrics:
    receiver: str
    units_before: int = 0
    t_gap_start: float = NAN
    t_media_resumed: float = NAN
    media_gap_ms: float = NAN
    units_lost: float = NAN
    units_lost_total: float = NAN
    freezes: int = 0
    freeze_ms: float = 0.0
    resumed: bool = False
    reason: str | None = None
    t_sender_cut_over: float = NAN  # the sender's first selected-pair change after the restart


@dataclass
class TrialMetrics:
    t_fault: float = NAN
    t_disconnected: float = NAN
    t_failed: float = NAN
    t_network_change: float = NAN
    t_detected: float = NAN
    t_restart: float = NAN
    t_offer: float = NAN
    t_answer: float = NAN
    t_new_pair: float = NAN
    t_connected: float = NAN
    t_media_resumed: float = NAN
    detection_ms: float = NAN
    decision_ms: float = NAN
    restart_ms: float = NAN
    signaling_ms: float = NAN
    checks_ms: float = NAN
    first_media_ms: float = NAN
    recovery_ms: float = NAN
    media_gap_ms: float = NAN
    media_gap_ms_at_offerer: float = NAN
    media_gap_ms_at_answerer: float = NAN
    units_lost: float = NAN
    units_lost_total: float = NAN
    freezes: int = 0
    freeze_ms: float = 0.0
    restarts: int = 0
    recovered: bool = False
    failure_reason: str | None = None
    directions: list[DirectionMetrics] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("directions")
        return out


def _first(frame: pd.DataFrame, after: float, kinds: tuple[str, ...],
           states: tuple[str, ...] | None = None) -> float:
    mask = frame["kind"].isin(kinds) & (frame["t_monotonic"] >= after)
    if states is not None:
        mask &= frame["state"].isin(states)
    times = frame.loc[mask, "t_monotonic"]
    return float(times.min()) if len(times) else NAN


def _ms(later: float, earlier: float) -> float:
    if math.isnan(later) or math.isnan(earlier):
        return NAN
    return (later - earlier) * 1000.0


def count_freezes(arrivals: np.ndarray) -> tuple[int, float]:
    """libwebrtc's freeze rule over inter-arrival intervals: (count, total frozen ms)."""
    intervals = np.diff(np.sort(arrivals)) * 1000.0
    history: list[float] = []
    freezes, frozen_ms = 0, 0.0
    for interval in intervals:
        if len(history) >= FREEZE_MIN_INTERVALS:
            avg = sum(history[-FREEZE_WINDOW:]) / len(history[-FREEZE_WINDOW:])
            if interval > max(150.0 + avg, 3.0 * avg):
                freezes += 1
                frozen_ms += float(interval)
                continue
        history.append(float(interval))
    return freezes, frozen_ms


def direction_metrics(events: pd.DataFrame, receiver: str, t_fault: float, t_end: float,
                      recover_s: float | None) -> DirectionMetrics:
    sender = next(p for p in PEERS if p != receiver)
    out = DirectionMetrics(receiver=receiver)
    rx = events[(events["peer"] == receiver) & (events["kind"] == "media_rx")]
    tx = events[(events["peer"] == sender) & (events["kind"] == "media_tx")]
    arrivals = np.sort(rx["t_monotonic"].to_numpy(dtype=float))
    out.freezes, out.freeze_ms = count_freezes(arrivals)
    if len(tx):
        received = set(zip(rx["ssrc"].astype("int64"), rx["seq"].astype("int64")))
        settled = tx[tx["t_monotonic"] < t_end - 1.0]
        out.units_lost_total = float(sum(1 for k in zip(settled["ssrc"].astype("int64"),
                                                          settled["seq"].astype("int64")) if k not in received))
    before = arrivals[arrivals <= t_fault]
    out.units_before = int(len(before))
    if not len(before):
        out.reason = f"no media at the {receiver} before the fault"
        return out
    window = arrivals[arrivals >= before[-1]]
    if len(window) < 2:
        out.t_gap_start = float(before[-1])
        out.reason = f"media did not resume at the {receiver}"
        _lost(out, rx, tx, t_end)
        return out
    gaps = np.diff(window)
    i = int(np.argmax(gaps))
    trailing = t_end - window[-1]
    if trailing > gaps[i] and trailing * 1000.0 > 150.0:
        # media stopped again (or for good) and the observation ended inside that silence
        out.t_gap_start = float(window[-1])
        out.reason = f"media stopped at the {receiver} and did not resume"
        _lost(out, rx, tx, t_end)
        return out
    out.t_gap_start = float(window[i])
    out.t_media_resumed = float(window[i + 1])
    out.media_gap_ms = float(gaps[i]) * 1000.0
    out.resumed = True
    if recover_s is not None and out.t_media_resumed - t_fault > recover_s:
        out.resumed = False
        out.reason = f"media resumed at the {receiver} only after {out.t_media_resumed - t_fault:.1f} s"
    _lost(out, rx, tx, out.t_media_resumed)
    return out


def _lost(out: DirectionMetrics, rx: pd.DataFrame, tx: pd.DataFrame, until_rx: float) -> None:
    """Units sent between the unit that opened the gap and the one that closed it, never received."""
    if not len(tx):
        return
    received = set(zip(rx["ssrc"].astype("int64"), rx["seq"].astype("int64")))
    key_start = rx.loc[rx["t_monotonic"] == out.t_gap_start, ["ssrc", "seq"]]
    sent_start = NAN
    if len(key_start):
        ssrc, seq = int(key_start.iloc[0]["ssrc"]), int(key_start.iloc[0]["seq"])
        match = tx[(tx["ssrc"] == ssrc) & (tx["seq"] == seq)]
        if len(match):
            sent_start = float(match["t_monotonic"].iloc[0])
    if math.isnan(sent_start):
        return
    sent_end = until_rx
    if out.resumed or not math.isnan(out.t_media_resumed):
        key_end = rx.loc[rx["t_monotonic"] == out.t_media_resumed, ["ssrc", "seq"]]
        if len(key_end):
            match = tx[(tx["ssrc"] == int(key_end.iloc[0]["ssrc"])) & (tx["seq"] == int(key_end.iloc[0]["seq"]))]
            if len(match):
                sent_end = float(match["t_monotonic"].iloc[0])
    else:
        sent_end = until_rx - 1.0  # units still in flight when the observation ended are not lost
    inside = tx[(tx["t_monotonic"] > sent_start) & (tx["t_monotonic"] < sent_end)]
    keys = zip(inside["ssrc"].astype("int64"), inside["seq"].astype("int64"))
    out.units_lost = float(sum(1 for k in keys if k not in received))


def trial_metrics(events: pd.DataFrame, recover_s: float | None = None,
                  receivers: tuple[str, ...] = PEERS) -> TrialMetrics:
    """Metrics of one trial from its events (one trial_id)."""
    m = TrialMetrics()
    faults = events[events["kind"] == "fault"]
    if not len(faults):
        m.failure_reason = "no fault was injected"
        return m
    t_fault = m.t_fault = float(faults["t_monotonic"].min())
    t_end_rows = events[events["kind"] == "trial_end"]
    t_end = float(t_end_rows["t_monotonic"].max()) if len(t_end_rows) else float(events["t_monotonic"].max())
    peers = events[events["peer"].isin(PEERS)]
    states = ("ice_state", "connection_state")
    m.t_disconnected = _first(peers, t_fault, states, ("disconnected",))
    m.t_failed = _first(peers, t_fault, states, ("failed",))
    m.t_network_change = _first(peers, t_fault, ("network_change",))
    detected = [t for t in (m.t_disconnected, m.t_failed, m.t_network_change) if not math.isnan(t)]
    m.t_detected = min(detected) if detected else NAN
    restarts = peers[(peers["kind"] == "restart") & (peers["t_monotonic"] >= t_fault)]
    m.restarts = int(len(restarts))
    m.t_restart = float(restarts["t_monotonic"].min()) if len(restarts) else NAN
    if not math.isnan(m.t_restart):
        m.t_offer = _first(peers, m.t_restart, ("offer_sent",))
        m.t_answer = _first(peers, m.t_restart, ("answer_received",))
    cut_over = {p: _first(peers[peers["peer"] == p], m.t_restart, ("selected_pair",)) for p in PEERS}
    m.t_connected = _first(peers, t_fault, ("connection_state",), ("connected",))

    m.directions = [direction_metrics(events, r, t_fault, t_end, recover_s) for r in receivers]
    for d in m.directions:
        d.t_sender_cut_over = cut_over[next(p for p in PEERS if p != d.receiver)]
    gaps = {d.receiver: d.media_gap_ms for d in m.directions}
    m.media_gap_ms_at_offerer = gaps.get("offerer", NAN)
    m.media_gap_ms_at_answerer = gaps.get("answerer", NAN)
    m.freezes = sum(d.freezes for d in m.directions)
    m.freeze_ms = sum(d.freeze_ms for d in m.directions)
    lost = [d.units_lost for d in m.directions if not math.isnan(d.units_lost)]
    m.units_lost = float(sum(lost)) if lost else NAN
    totals = [d.units_lost_total for d in m.directions if not math.isnan(d.units_lost_total)]
    m.units_lost_total = float(sum(totals)) if totals else NAN
    m.recovered = all(d.resumed for d in m.directions)
    if m.recovered:
        last = max(m.directions, key=lambda d: d.t_media_resumed)
        m.t_media_resumed = last.t_media_resumed
        m.t_new_pair = last.t_sender_cut_over
        m.media_gap_ms = max(d.media_gap_ms for d in m.directions)
    else:
        cuts = [t for t in cut_over.values() if not math.isnan(t)]
        m.t_new_pair = max(cuts) if len(cuts) == len(PEERS) else NAN
        m.failure_reason = "; ".join(d.reason for d in m.directions if d.reason)
        m.media_gap_ms = NAN

    m.detection_ms = _ms(m.t_detected, t_fault)
    m.decision_ms = _ms(m.t_restart, m.t_detected)
    m.restart_ms = _ms(m.t_new_pair, m.t_restart)
    m.signaling_ms = _ms(m.t_answer, m.t_restart)
    m.checks_ms = _ms(m.t_new_pair, m.t_answer)
    if not m.t_new_pair > m.t_media_resumed:  # media came back on the old path: no first-media phase
        m.first_media_ms = _ms(m.t_media_resumed, m.t_new_pair)
    m.recovery_ms = _ms(m.t_media_resumed, t_fault)
    return m


def metrics_table(events: pd.DataFrame, recover_s: float | None = None) -> pd.DataFrame:
    """One row of metrics per trial_id of an events table."""
    rows = []
    for trial_id, group in events.groupby("trial_id", sort=False):
        row = trial_metrics(group, recover_s).row()
        row["trial_id"] = trial_id
        rows.append(row)
    return pd.DataFrame(rows)
