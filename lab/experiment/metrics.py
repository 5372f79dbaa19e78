"""Per-trial recovery metrics: pure functions of one trial's events (lab.experiment.events).

All times are CLOCK_MONOTONIC seconds shared by every process of the machine (see events.py);
durations are milliseconds. Media continuity (freezes, outages, steady flow) is defined in
lab.experiment.continuity. Definitions:

  The fault and the window
    t_fault          the orchestrator's `fault` event (the break, see lab.experiment.faults)
    t_fault_end      the fault fully over: the last `fault_end`/`fault_step` event, else t_fault
    observed_ms      t_fault -> `trial_end` (the orchestrator stops observing)
    window           media must resume by t_fault_end + recover_s to count as recovered

  Per receiver (columns suffixed _offerer / _answerer, the receiving peer)
    t_gap_start      the unit that opened the first outage (the last unit before the silence)
    t_media_resumed  the first unit of steady flow after it: the receive rate back to >= 90 % of
                     the pre-fault rate for 1 s
    media_gap_ms     t_media_resumed - t_gap_start (a loss burst is one gap from its first freeze
                     to steady flow; it is not the single longest silence)
    outages          outages from the fault to the end (a second one after steady flow counts).
                     The first is the fault's only if it began before a second of steady flow
                     after the fault: one that starts after the media flowed steadily again (a
                     load stall seconds later) is counted here but is not the fault's gap, and
                     does not make the fault an interruption
    freezes          every freeze (libwebrtc's rule) over the whole trial, with an unfinished one
                     when the observation ends in silence; freeze_ms is their total
    resumed_on       'new-pair' when the first unit of steady flow came over another ICE generation
                     or candidate pair than the last unit before the gap, 'old-path' when over the
                     same (for a direction the fault never interrupted: the last unit before the
                     fault and the first after it), 'unknown' when the path of either unit cannot
                     be told (see below; also when the receiver reports no path at all), 'none'
                     when media did not resume within the window (or stopped again). A direction
                     whose silence was shorter than a freeze but whose media moved to another path
                     within PATH_CHANGE_WINDOW_S of the fault (a fast handover) has its gap from
                     the last unit on the old path to the first on the new one (paths that cannot
                     be told apart are no change). The trial's: over the interrupted
                     directions, 'old-path' if any of them came back on the old path, else
                     'unknown' if any cannot be told. Through an SFU (sfu_session events) the
                     media crosses two legs: 'new-pair' too when the receiver's leg kept its pair
                     but the sender's leg selected another one
    gen/pair before, after   the generation and the candidate pair (local and remote type and
                     address) of those two units, from the best evidence the receiver gives:
                     0. the pair the unit itself arrived on (media_rx `local_type`/`local_address`/
                        `remote_type`/`remote_address`: lab.rtc, the socket that received it and the
                        address it came from) with its generation. The receiver's selected pair can
                        lag it: in a move inside a generation the sender switches first, and the
                        receiver's own selection follows up to a consent interval later;
                     1. else (runs before that evidence) the unit's own generation (media_rx
                        `generation`) with the pair of that generation selected at the receiver,
                        unless the sender's selected pair when it sent the unit (its media_tx; lab.rtc
                        sends on its selected pair and stamps the switch exactly; not a browser) is not that pair seen from the other end but is
                        another pair the receiver selected in that generation (each end's address
                        or, for a reflexive one, its base from candidate_sent): then that pair;
                     2. else the receiver's per-pair data windows (pair_rx: browsers, from each
                        candidate pair's byte counters in getStats, which can place a pair's first
                        data up to DATA_EDGE_TOLERANCE_S after its unit; its last packet within
                        DATA_STOP_SKEW_S): the one pair whose data window holds the unit's arrival
                        (within those); several -> unknown; none (counters lagging
                        more) -> before the gap, the pair whose data came last in the STEADY_S
                        before the unit, after it the pair whose data came first in the STEADY_S
                        of steady flow from it, unknown when two are within the tolerance. (A browser's selected-pair event is stamped when the
                        page hears of it, often after the first packet on the new pair: it cannot
                        place a unit);
                     3. else (peers reporting neither) the pair selected at the receiver when the
                        unit arrived; unknown when the selected pair changed within
                        DATA_EDGE_TOLERANCE_S after it (the event may be late for this unit)
    units_lost       sequence numbers the sender assigned inside the gap and the receiver never got
    units_lost_total the same over the whole trial (the last second of sends counts as in flight)
    units_dropped_by_sender  sequence numbers the sender assigned but never handed to the network
                     (no media_tx: its DTLS transport was not up); part of units_lost_total
    disconnected_to_media_ms / failed_to_media_ms   the receiver's own first 'disconnected' /
                     'failed' (ICE or connection state) after the fault -> its t_media_resumed

  Negotiations (paired by identity)
    negotiations     offers sent after the fault; rollbacks: implicit rollbacks (glare) after it;
                     negotiation_list: each offer's peer, id, restart, offer and answer instants
    negotiation_id   made by the offerer, echoed in the answer (offer/answer events' detail);
                     without it, an answer pairs with the last offer its receiver sent
    The restart that worked: the newest offer whose answer its offering side applied before
    t_new_pair; its restart is the offering peer's last `restart` before that offer.

  Phases (only for trials resumed on a new pair; NaN otherwise: 'unknown' trials have none)
    t_detected       earliest 'disconnected' / 'failed' / network change (any peer) after t_fault
    t_restart        the restart that worked; t_first_restart: any peer's first after t_fault
    t_answer         that negotiation's answer applied at its offering side
    t_candidate      the later peer's first candidate of the new generation on the interface of
                     its local candidate in the new pair (candidate_sent: generation, address,
                     interface; NaN when the peers do not report them)
    t_new_pair       the sender's first selected pair on the resumed generation, for the
                     direction whose media resumed last; no later than that direction's media
                     resumed over the new pair (a pair carries media only once selected: a
                     browser's selected-pair event or getStats poll that comes after the media is
                     late, and the media's arrival bounds the switch)
    detection_ms     t_detected - t_fault
    decision_ms      t_restart - t_detected
    signaling_ms     t_answer - t_restart
    gathering_ms     t_candidate - t_restart
    checks_ms        t_new_pair - max(t_answer, t_candidate)
    first_media_ms   t_media_resumed - t_new_pair
    restart_ms       t_new_pair - t_restart
    recovery_ms      t_media_resumed - t_fault (every trial that resumed)
  For a restart that brought media back, detection + decision + signaling + max(0, t_candidate -
  t_answer) + checks + first_media = recovery_ms.

  interrupted        per direction: the fault opened an outage in it, moved its media to another
                     path (new-pair, including a fast handover shorter than a freeze), left its path
                     unknown, or its media did not resume; not interrupted: no outage and the units
                     before and after the fault came over the same, known path. The trial's: any
                     direction interrupted. A trial the fault interrupted in no direction (e.g. the
                     media already ran over the path the fault left alone) is no recovery and no
                     failure: recovered is False, resumed_on 'old-path', no gap, failure_reason says
                     so, and the analysis leaves it out of every recovery statistic
                     (lab.analysis.summary counts it apart)
  recovered          media resumed at every receiver within the window and kept flowing to the
                     end of the observation, in a trial the fault interrupted
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lab.experiment import continuity
from lab.experiment.events import PEERS, detail_of

NAN = math.nan
SETTLE_IN_FLIGHT_S = 1.0
RESUMED_ON = ("new-pair", "old-path", "unknown", "none")
# how long after the fault a direction no freeze interrupted is searched for a path change
PATH_CHANGE_WINDOW_S = 5.0
# a browser's candidate-pair byte counters (pair_rx) lag the frames' receive times: the earliest
# a pair's first data can be (its start window's lower bound) came up to 35 ms after its first
# unit (measured: 13 receivers, Chromium 156 and Firefox 153, 50 ms polls); a pair's last packet
# (its own timestamp) and the unit's receive time come from two clocks a few ms apart (measured:
# within 5 ms)
DATA_EDGE_TOLERANCE_S = 0.05
DATA_STOP_SKEW_S = 0.02
NOT_INTERRUPTED = ("the fault interrupted no direction of the media: no outage, and each receiver's units "
                   "before and after the fault came over the same path (not a recovery)")


@dataclass
class Path:
    generation: float = NAN
    local: str | None = None  # "type address"
    remote: str | None = None

    @property
    def known(self) -> bool:
        return math.isfinite(self.generation) or self.local is not None

    def same_as(self, other: Path) -> bool:
        if math.isfinite(self.generation) and math.isfinite(other.generation) and self.generation != other.generation:
            return False
        if self.local and other.local and (self.local, self.remote) != (other.local, other.remote):
            return False
        return True


@dataclass
class DirectionMetrics:
    receiver: str
    units_before: int = 0
    rate_before: float = NAN
    t_gap_start: float = NAN
    t_media_resumed: float = NAN
    media_gap_ms: float = NAN
    outages: int = 0
    fault_outage: bool = False  # the first outage is the fault's (no steady second before it)
    freezes: int = 0
    freeze_ms: float = 0.0
    freeze_list: list[tuple[float, float, bool]] = field(default_factory=list)  # (t - t_fault s, ms, ended)
    units_lost: float = NAN
    units_lost_total: float = NAN
    units_dropped_by_sender: float = NAN
    resumed: bool = False
    resumed_on: str = "none"
    before: Path = field(default_factory=Path)
    after: Path = field(default_factory=Path)
    t_disconnected: float = NAN
    t_failed: float = NAN
    disconnected_to_media_ms: float = NAN
    failed_to_media_ms: float = NAN
    reason: str | None = None
    path_unknown: str | None = None  # why resumed_on is 'unknown'
    t_sender_cut_over: float = NAN

    @property
    def interrupted(self) -> bool:
        """The fault touched this direction's media (see the module's docstring)."""
        return self.fault_outage or not self.resumed or self.resumed_on != "old-path"


@dataclass
class TrialMetrics:
    t_fault: float = NAN
    t_fault_end: float = NAN
    observed_ms: float = NAN
    t_disconnected: float = NAN
    t_failed: float = NAN
    t_network_change: float = NAN
    t_detected: float = NAN
    t_first_restart: float = NAN
    t_restart: float = NAN
    t_offer: float = NAN
    t_answer: float = NAN
    t_candidate: float = NAN
    t_new_pair: float = NAN
    t_connected: float = NAN
    t_media_resumed: float = NAN
    detection_ms: float = NAN
    decision_ms: float = NAN
    restart_ms: float = NAN
    signaling_ms: float = NAN
    gathering_ms: float = NAN
    checks_ms: float = NAN
    first_media_ms: float = NAN
    recovery_ms: float = NAN
    media_gap_ms: float = NAN
    media_gap_ms_at_offerer: float = NAN
    media_gap_ms_at_answerer: float = NAN
    disconnected_to_media_ms: float = NAN
    failed_to_media_ms: float = NAN
    resumed_on: str = "none"
    negotiation_id: str | None = None
    negotiations: int = 0
    negotiation_list: str = "[]"  # JSON: [offering peer, id, restart, offer, answer] (s after the fault)
    rollbacks: int = 0
    outages: int = 0
    units_lost: float = NAN
    units_lost_total: float = NAN
    units_dropped_by_sender: float = NAN
    freezes: int = 0
    freeze_ms: float = 0.0
    restarts: int = 0
    interrupted: bool = True
    recovered: bool = False
    failure_reason: str | None = None
    directions: list[DirectionMetrics] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("directions")
        for d in self.directions:
            r = d.receiver
            out[f"resumed_on_{r}"] = d.resumed_on
            out[f"path_unknown_{r}"] = d.path_unknown
            out[f"disconnected_to_media_ms_{r}"] = d.disconnected_to_media_ms
            out[f"failed_to_media_ms_{r}"] = d.failed_to_media_ms
            out[f"outages_{r}"] = d.outages
            out[f"interrupted_{r}"] = d.interrupted
            out[f"units_dropped_by_sender_{r}"] = d.units_dropped_by_sender
            for side, path in (("before", d.before), ("after", d.after)):
                out[f"generation_{side}_{r}"] = path.generation
                out[f"pair_{side}_{r}"] = f"{path.local} -> {path.remote}" if path.local else None
            out[f"freezes_{r}"] = json.dumps([[round(a, 3), round(b, 1), c] for a, b, c in d.freeze_list])
        return out


# ----- helpers ------------------------------------------------------------------------------

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


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None else NAN
    except (TypeError, ValueError):
        return NAN


def count_freezes(arrivals: np.ndarray) -> tuple[int, float]:
    """libwebrtc's freeze rule over inter-arrival intervals: (count, total frozen ms)."""
    found = continuity.freezes(arrivals)
    return len(found), float(sum(f.duration_ms for f in found))


# ----- paths --------------------------------------------------------------------------------

def _pairs(events: pd.DataFrame, peer: str) -> pd.DataFrame:
    pairs = events[(events["peer"] == peer) & (events["kind"] == "selected_pair")].sort_values("t_monotonic")
    if not len(pairs):
        return pd.DataFrame(columns=["t", "connection", "generation", "local", "remote"])
    details = detail_of(pairs)
    return pd.DataFrame({
        "t": pairs["t_monotonic"].to_numpy(dtype=float),
        "connection": [_number(d.get("gen")) for d in details],  # the RTCPeerConnection (full reconnects)
        "generation": [_number(d.get("generation")) for d in details],
        "local": [f"{d.get('local_type')} {d.get('local_address')}" for d in details],
        "remote": [f"{d.get('remote_type')} {d.get('remote_address')}" for d in details],
    })


def data_windows(events: pd.DataFrame, peer: str, kind: str = "pair_rx") -> pd.DataFrame:
    """Per candidate pair, the intervals it carried data (pair_rx / pair_tx edges): `lo` (the
    first packet came after it), `start` (by then it had), `stop` (its last packet; inf while it
    still carried data when the events end). Empty when the peer reports no such edges."""
    rows = events[(events["peer"] == peer) & (events["kind"] == kind)].sort_values("t_monotonic")
    out: list[dict[str, Any]] = []
    open_: dict[tuple[str, str, float], dict[str, Any]] = {}
    for t, d in zip(rows["t_monotonic"].to_numpy(dtype=float), detail_of(rows), strict=False):
        local = f"{d.get('local_type')} {d.get('local_address')}"
        remote = f"{d.get('remote_type')} {d.get('remote_address')}"
        generation = _number(d.get("generation"))
        key = (local, remote, generation if math.isfinite(generation) else -1.0)
        if d.get("edge") == "start":
            window = _number(d.get("window_ms"))
            lo = t - window / 1000.0 if math.isfinite(window) else -math.inf
            if key in open_:  # a start without the stop before it: the data never stopped
                continue
            open_[key] = {"lo": lo, "start": t, "stop": math.inf, "generation": generation,
                          "local": local, "remote": remote}
            out.append(open_[key])
        elif d.get("edge") == "stop" and key in open_:
            open_.pop(key)["stop"] = t
    return pd.DataFrame(out, columns=["lo", "start", "stop", "generation", "local", "remote"])


def _path_from_data(t: float, windows: pd.DataFrame, before_gap: bool) -> Path:
    """The one pair carrying data at t (within the tolerance); none: the pair that carried data
    last in the STEADY_S up to t (before_gap), or first in the STEADY_S from t. Unknown when
    several pairs carried data at t, or when none did and two pairs' edges are within the
    tolerance."""
    tol, span = DATA_EDGE_TOLERANCE_S, continuity.STEADY_S
    holding = windows[(windows["lo"] < t + tol) & (windows["stop"] > t - DATA_STOP_SKEW_S)]
    holders = holding[["local", "remote"]].drop_duplicates()
    if len(holders) > 1:
        return Path()
    if len(holders) == 1:
        row = holding.iloc[0]
        return Path(float(row["generation"]), str(row["local"]), str(row["remote"]))
    lo, hi = (t - span, t + tol) if before_gap else (t - tol, t + span)
    inside = windows[(windows["lo"] < hi) & (windows["stop"] > lo)]
    if not len(inside):
        return Path()
    # the edge of each pair's data nearest the unit, within the span
    edge = inside["stop"].clip(upper=hi) if before_gap else inside["lo"].clip(lower=lo)
    by_pair = pd.DataFrame({"local": inside["local"], "remote": inside["remote"], "edge": edge,
                            "generation": inside["generation"]})
    by_pair = by_pair.sort_values("edge", ascending=not before_gap).drop_duplicates(["local", "remote"])
    if len(by_pair) > 1 and abs(float(by_pair["edge"].iloc[0]) - float(by_pair["edge"].iloc[1])) < tol:
        return Path()
    row = by_pair.iloc[0]
    return Path(float(row["generation"]), str(row["local"]), str(row["remote"]))


@dataclass
class SenderView:
    """The sender's side of a unit's path (rule 1's check, for runs whose media_rx carry no
    pair): its selected pairs, its media_tx, and each side's signaled addresses with their base
    (a reflexive candidate's related address; a host or relayed one is its own)."""

    pairs: pd.DataFrame
    tx: pd.DataFrame
    receiver_bases: dict[str, str]
    sender_bases: dict[str, str]

    @classmethod
    def of(cls, events: pd.DataFrame, receiver: str, sender: str) -> SenderView | None:
        """None for a browser sender: its selected-pair event can come after its media."""
        if ((events["peer"] == sender) & (events["kind"] == "browser_ready")).any():
            return None
        tx = events[(events["peer"] == sender) & (events["kind"] == "media_tx")]
        return cls(_pairs(events, sender), tx[["t_monotonic", "ssrc", "seq"]],
                   _bases(events, receiver), _bases(events, sender))

    def pair_when_sent(self, rx_row: pd.Series) -> tuple[str, str] | None:
        """The sender's selected pair (local, remote) when it sent the unit (at its arrival
        when the sender logs no media_tx); None without a selected pair by then."""
        t = float(rx_row["t_monotonic"])
        if len(self.tx) and not pd.isna(rx_row["seq"]) and not pd.isna(rx_row["ssrc"]):
            own = self.tx[(self.tx["ssrc"] == rx_row["ssrc"]) & (self.tx["seq"] == rx_row["seq"])
                          & (self.tx["t_monotonic"] <= t)]
            if len(own):
                t = float(own["t_monotonic"].max())
        known = self.pairs[self.pairs["t"] <= t]
        if not len(known):
            return None
        return str(known["local"].iloc[-1]), str(known["remote"].iloc[-1])

    def mirrors(self, local: str, remote: str, theirs: tuple[str, str]) -> bool:
        """The receiver's pair (local, remote) is the sender's pair seen from the other end."""
        rl, rr = _address(local), _address(remote)
        sl, sr = _address(theirs[0]), _address(theirs[1])
        return rl in (sr, self.receiver_bases.get(sr)) and sl in (rr, self.sender_bases.get(rr))


def _address(candidate: str) -> str:
    return candidate.split(" ", 1)[-1]  # "type address:port" -> "address:port"


def _bases(events: pd.DataFrame, peer: str) -> dict[str, str]:
    rows = events[(events["peer"] == peer) & (events["kind"] == "candidate_sent")]
    out: dict[str, str] = {}
    for d in detail_of(rows):
        if d.get("address") and d.get("port") is not None:
            address = f"{d['address']}:{d['port']}"
            related = d.get("related_address")
            out[address] = f"{related}:{d.get('related_port')}" if related else address
    return out


def _arrival_path(detail: dict[str, Any], generation: float) -> Path | None:
    """Rule 0: the pair the unit arrived on, when the receiver stamped it."""
    if not detail.get("local_address") or not detail.get("remote_address"):
        return None
    return Path(generation, f"{detail.get('local_type')} {detail['local_address']}",
                f"{detail.get('remote_type')} {detail['remote_address']}")


def path_of_unit(rx_row: pd.Series | None, pairs: pd.DataFrame, windows: pd.DataFrame | None = None,
                 before_gap: bool = False, sender: SenderView | None = None) -> Path:
    """The generation and candidate pair a unit arrived on, as seen at its receiver (the
    evidence, best first, is in the module's docstring); `before_gap`: the unit that opened it;
    `sender`: the sender's events, which check rule 1."""
    if rx_row is None:
        return Path()
    detail = json.loads(rx_row["detail"]) if isinstance(rx_row["detail"], str) else {}
    generation = _number(detail.get("generation"))
    arrived = _arrival_path(detail, generation)
    if arrived is not None:
        return arrived
    t = float(rx_row["t_monotonic"])
    if not math.isfinite(generation) and windows is not None and len(windows):
        return _path_from_data(t, windows, before_gap)
    if not math.isfinite(generation) and len(pairs[(pairs["t"] > t) & (pairs["t"] <= t + DATA_EDGE_TOLERANCE_S)]):
        return Path()  # the pair changed just after the unit: a late event may have been its pair
    known = pairs[pairs["t"] <= t]
    if math.isfinite(generation):
        same = known[known["generation"] == generation]
        if len(same):
            known = same
        elif len(pairs[pairs["generation"] == generation]):
            known = pairs[pairs["generation"] == generation].head(1)  # the pair event came just after
        else:
            return Path(generation)
    if not len(known):
        return Path(generation)
    last = known.iloc[-1]
    selected = Path(generation if math.isfinite(generation) else float(last["generation"]),
                    str(last["local"]), str(last["remote"]))
    if math.isfinite(generation) and sender is not None:
        return _checked_by_sender(selected, rx_row, pairs, sender)
    return selected


def _checked_by_sender(selected: Path, rx_row: pd.Series, pairs: pd.DataFrame, sender: SenderView) -> Path:
    """Rule 1's check: the receiver's selected pair lags a move inside its generation when the
    sender sent the unit over another pair, one the receiver selected later (or earlier)."""
    theirs = sender.pair_when_sent(rx_row)
    if theirs is None or selected.local is None or sender.mirrors(selected.local, str(selected.remote), theirs):
        return selected
    mine = pairs[pairs["generation"] == selected.generation][["local", "remote"]].drop_duplicates()
    matching = [(str(a), str(b)) for a, b in zip(mine["local"], mine["remote"], strict=False)
                if sender.mirrors(str(a), str(b), theirs)]
    if len(matching) != 1:
        return selected
    return Path(selected.generation, *matching[0])


# ----- units --------------------------------------------------------------------------------

def _keys(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["ssrc"].astype("int64"), frame["seq"].astype("int64"), strict=False))


def _assigned(tx: pd.DataFrame) -> dict[int, np.ndarray]:
    """Per SSRC, every extended sequence number from the first to the last unit sent."""
    out: dict[int, np.ndarray] = {}
    for ssrc, group in tx.sort_values("t_monotonic").groupby("ssrc"):
        seqs = np.unwrap(group["seq"].astype("int64").to_numpy(dtype=float), period=65536).astype(np.int64)
        out[int(ssrc)] = np.arange(seqs.min(), seqs.max() + 1) if len(seqs) else np.array([], dtype=np.int64)
    return out


def _unit_counts(rx: pd.DataFrame, tx: pd.DataFrame, t_end: float) -> tuple[float, float]:
    """(units lost over the trial, units the sender dropped) from the sequence numbers."""
    if not len(tx):
        return NAN, NAN
    settled = tx[tx["t_monotonic"] < t_end - SETTLE_IN_FLIGHT_S]
    received, sent = _keys(rx), _keys(settled)
    lost = dropped = 0
    for ssrc, ext in _assigned(settled).items():
        for seq in (ext % 65536):
            key = (ssrc, int(seq))
            lost += key not in received
            dropped += key not in sent
    return float(lost), float(dropped)


def _lost_between(rx: pd.DataFrame, tx: pd.DataFrame, first: pd.Series, last: pd.Series | None,
                  t_end: float) -> float:
    """Sequence numbers assigned after unit `first` and before unit `last` (or, without `last`, up
    to the last settled unit sent) that never arrived. When `last` has another SSRC (a new
    RTCPeerConnection), the rest of the first SSRC and the start of the new one both count. From
    the receiver's own numbers when the sender logs none."""
    source = tx if len(tx) else rx
    if last is None:
        if not len(tx):
            return NAN
        source = source[source["t_monotonic"] < t_end - SETTLE_IN_FLIGHT_S]
    received = _keys(rx)
    spans: list[tuple[int, int | None, int | None]] = [(int(first["ssrc"]), int(first["seq"]), None)]
    if last is not None:
        if int(last["ssrc"]) == int(first["ssrc"]):
            spans = [(int(first["ssrc"]), int(first["seq"]), int(last["seq"]))]
        else:
            spans.append((int(last["ssrc"]), None, int(last["seq"])))
    lost = 0
    for ssrc, after, before in spans:
        own = source[source["ssrc"] == ssrc].sort_values("t_monotonic")
        seqs = own["seq"].astype("int64").to_numpy(dtype=float)
        if not len(seqs):
            return NAN
        ext = np.unwrap(seqs, period=65536).astype(np.int64)
        start = int(ext[0]) - 1
        if after is not None:
            hits = np.flatnonzero(ext % 65536 == after)
            if not len(hits):
                return NAN
            start = int(ext[hits[0]])
        stop = int(ext.max()) + 1
        if before is not None:
            hits = np.flatnonzero((ext % 65536 == before) & (ext > start))
            stop = int(ext[hits[0]]) if len(hits) else start + 1
        lost += sum((ssrc, int(x % 65536)) not in received for x in range(start + 1, stop))
    return float(lost)


# ----- one direction ------------------------------------------------------------------------

def direction_metrics(events: pd.DataFrame, receiver: str, t_fault: float, t_end: float,
                      recover_s: float | None, t_fault_end: float | None = None,
                      through_sfu: bool = False) -> DirectionMetrics:
    sender = next(p for p in PEERS if p != receiver)
    out = DirectionMetrics(receiver=receiver)
    t_fault_end = t_fault if t_fault_end is None or math.isnan(t_fault_end) else t_fault_end
    rx = events[(events["peer"] == receiver) & (events["kind"] == "media_rx")].sort_values("t_monotonic")
    tx = events[(events["peer"] == sender) & (events["kind"] == "media_tx")]
    arrivals = rx["t_monotonic"].to_numpy(dtype=float)
    listed = continuity.freezes(arrivals, t_end)
    out.freezes = len(listed)
    out.freeze_ms = float(sum(f.duration_ms for f in listed))
    out.freeze_list = [(f.start - t_fault, f.duration_ms, f.ended) for f in listed]
    out.units_lost_total, out.units_dropped_by_sender = _unit_counts(rx, tx, t_end)
    own = events[events["peer"] == receiver]
    out.t_disconnected = _first(own, t_fault, ("ice_state", "connection_state"), ("disconnected",))
    out.t_failed = _first(own, t_fault, ("ice_state", "connection_state"), ("failed",))

    before = arrivals[arrivals <= t_fault]
    out.units_before = int(len(before))
    out.rate_before = continuity.pre_fault_rate(arrivals, t_fault)
    if not len(before):
        out.reason = f"no media at the {receiver} before the fault"
        return out
    pairs = _pairs(events, receiver)
    windows = data_windows(events, receiver)
    view = None if through_sfu else SenderView.of(events, receiver, sender)  # an SFU leg: another sender
    found = continuity.outages(arrivals, t_fault, t_end)
    out.outages = len(found)
    if found and continuity.steady_between(arrivals, t_fault, found[0].start, out.rate_before,
                                           np.array([f.start for f in listed])):
        # media flowed steadily again after the fault before this outage began (a load stall
        # seconds later, a second fault): an outage of the observation, not the fault's
        found_by_fault: list[continuity.Outage] = []
    else:
        found_by_fault = found
    out.fault_outage = bool(found_by_fault)
    if not found_by_fault:  # the fault never interrupted this direction
        first_after = rx[rx["t_monotonic"] > t_fault]
        if not len(first_after):
            out.t_gap_start = float(before[-1])
            out.reason = f"media did not resume at the {receiver}"
            return out
        opened = rx[rx["t_monotonic"] <= t_fault].iloc[-1]
        closed = first_after.iloc[0]
        # a silence shorter than a freeze may still have moved the media to another path (a
        # fast handover): then the gap runs from the last unit on the old path to the first
        # on the new one, not from the fault to a unit still in flight on the old path
        # (a unit whose path cannot be told is neither)
        old_path = path_of_unit(opened, pairs, windows, before_gap=True, sender=view)
        soon = first_after[first_after["t_monotonic"] <= t_fault + PATH_CHANGE_WINDOW_S] \
            if old_path.known else first_after.iloc[:0]
        last_on_old = opened
        for position in range(len(soon)):
            unit = soon.iloc[position]
            path = path_of_unit(unit, pairs, windows, sender=view)
            if not path.known:
                continue
            if not path.same_as(old_path):
                closed, opened = unit, last_on_old
                break
            last_on_old = unit
    else:
        opened = rx[rx["t_monotonic"] == found_by_fault[0].start].iloc[0]
        matches = rx[rx["t_monotonic"] == found_by_fault[0].end]
        closed = matches.iloc[0] if len(matches) else None
    out.t_gap_start = float(opened["t_monotonic"])
    out.before = path_of_unit(opened, pairs, windows, before_gap=True, sender=view)
    if closed is None:
        out.reason = f"media did not resume at the {receiver} (no second of steady flow)"
        out.units_lost = _lost_between(rx, tx, opened, None, t_end)
        return out
    out.t_media_resumed = float(closed["t_monotonic"])
    out.media_gap_ms = (out.t_media_resumed - out.t_gap_start) * 1000.0
    out.after = path_of_unit(closed, pairs, windows, sender=view)
    out.units_lost = _lost_between(rx, tx, opened, closed, t_end)
    out.disconnected_to_media_ms = _ms(out.t_media_resumed, out.t_disconnected) \
        if out.t_disconnected <= out.t_media_resumed else NAN
    out.failed_to_media_ms = _ms(out.t_media_resumed, out.t_failed) if out.t_failed <= out.t_media_resumed else NAN
    out.resumed = True
    if recover_s is not None and out.t_media_resumed > t_fault_end + recover_s:
        out.resumed = False
        out.reason = (f"media resumed at the {receiver} only {out.t_media_resumed - t_fault_end:.1f} s after "
                      f"the fault ended (window {recover_s:g} s)")
    elif found and not math.isfinite(found[-1].end):
        out.resumed = False
        out.reason = f"media stopped again at the {receiver} and had not resumed when the observation ended"
    if out.resumed:
        if not (out.before.known and out.after.known):
            out.resumed_on = "unknown"
            out.path_unknown = (f"the {receiver} cannot say which path carried the unit "
                                f"{'before' if not out.before.known else 'after'} the gap")
        else:
            out.resumed_on = "old-path" if out.before.same_as(out.after) else "new-pair"
        if through_sfu and out.resumed_on == "old-path":
            # through an SFU the media crosses two legs (two ICE sessions): the receiver's pair
            # tells its own leg only; the sender's leg may have moved to a new pair
            sender_pairs = _pairs(events, sender)
            if _pair_at(sender_pairs, out.t_gap_start) != _pair_at(sender_pairs, out.t_media_resumed):
                out.resumed_on = "new-pair"
    return out


def _pair_at(pairs: pd.DataFrame, t: float) -> tuple[float, str, str] | None:
    known = pairs[pairs["t"] <= t]
    if not len(known):
        return None
    last = known.iloc[-1]
    return float(last["generation"]), str(last["local"]), str(last["remote"])


# ----- negotiations -------------------------------------------------------------------------

@dataclass
class Negotiation:
    negotiation_id: str
    offerer: str
    t_offer: float
    t_restart: float = NAN
    t_answer: float = NAN
    generation: float = NAN


def negotiations(peers: pd.DataFrame, t_fault: float) -> list[Negotiation]:
    """The offers sent after the fault, each with the restart that produced it and the answer
    to it (paired by negotiation_id; without ids, the next answer the offering peer applied)."""
    frame = peers[peers["t_monotonic"] >= t_fault].sort_values("t_monotonic")
    frame = frame[frame["kind"].isin(("offer_sent", "answer_received", "restart"))]
    found: list[Negotiation] = []
    by_id: dict[str, Negotiation] = {}
    last_restart: dict[str, float] = {}
    last_offer: dict[str, Negotiation] = {}
    for (_, row), detail in zip(frame.iterrows(), detail_of(frame), strict=False):
        peer, t, kind = str(row["peer"]), float(row["t_monotonic"]), str(row["kind"])
        nid = detail.get("negotiation_id")
        if kind == "restart":
            last_restart[peer] = t
        elif kind == "offer_sent":
            nid = str(nid) if nid else f"{peer}:{detail.get('ice_ufrag')}:{len(found)}"
            n = Negotiation(nid, peer, t, t_restart=last_restart.pop(peer, NAN))
            found.append(n)
            by_id[nid] = n
            last_offer[peer] = n
        else:
            answered = by_id.get(str(nid)) if nid else last_offer.get(peer)
            if answered is not None and answered.offerer == peer and math.isnan(answered.t_answer):
                answered.t_answer = t
    return found


def _rollbacks(peers: pd.DataFrame, t_fault: float) -> int:
    steps = peers[(peers["kind"] == "negotiation") & (peers["t_monotonic"] >= t_fault)]
    return sum(1 for d in detail_of(steps) if d.get("event") == "glare" and d.get("action") == "implicit_rollback")


# ----- gathering ----------------------------------------------------------------------------

def _candidate_time(peers: pd.DataFrame, peer: str, pair_local: str | None, generation: float,
                    after: float) -> float:
    """The peer's first candidate of `generation` (sent after `after`) on the interface of the
    pair's local candidate; NaN without candidate events carrying interfaces."""
    rows = peers[(peers["peer"] == peer) & (peers["kind"] == "candidate_sent") & (peers["t_monotonic"] >= after)]
    if not len(rows):
        return NAN
    rows = rows.sort_values("t_monotonic")
    details = detail_of(rows).tolist()
    times = rows["t_monotonic"].to_numpy(dtype=float)
    chosen = [(t, d) for t, d in zip(times, details, strict=False) if not d.get("end_of_candidates") and d.get("address")
              and (not math.isfinite(generation) or d.get("generation") is None
                   or _number(d.get("generation")) == generation)]
    if not chosen or not pair_local:
        return NAN
    address = pair_local.split(" ", 1)[-1].rsplit(":", 1)[0]
    interfaces = {d.get("interface") for _, d in chosen if d.get("address") == address and d.get("interface")}
    if not interfaces:
        # a reflexive or relayed local candidate: its base's interface is not in the pair
        interfaces = {d.get("interface") for _, d in chosen
                      if d.get("related_address") == address and d.get("interface")}
    if not interfaces:
        return NAN
    return min(t for t, d in chosen if d.get("interface") in interfaces)


def _cut_over(events: pd.DataFrame, peer: str, t_fault: float) -> tuple[float, float]:
    """(time, generation) of the peer's first selected pair of another generation than the one it
    had at the fault (any selected-pair change when generations are not reported)."""
    pairs = _pairs(events, peer)
    before = pairs[pairs["t"] <= t_fault]
    old = float(before["generation"].iloc[-1]) if len(before) else NAN
    old_connection = float(before["connection"].iloc[-1]) if len(before) else NAN
    after = pairs[pairs["t"] >= t_fault]
    if math.isfinite(old):
        same_connection = after["connection"].isna() | (after["connection"] == old_connection) \
            if math.isfinite(old_connection) else pd.Series(True, index=after.index)
        after = after[(after["generation"] != old) | ~same_connection]
    if not len(after):
        return NAN, NAN
    return float(after["t"].iloc[0]), float(after["generation"].iloc[0])


# ----- the trial ----------------------------------------------------------------------------

def trial_metrics(events: pd.DataFrame, recover_s: float | None = None,
                  receivers: tuple[str, ...] = PEERS) -> TrialMetrics:
    """Metrics of one trial from its events (one trial_id)."""
    m = TrialMetrics()
    faults = events[events["kind"] == "fault"]
    if not len(faults):
        m.failure_reason = "no fault was injected"
        return m
    t_fault = m.t_fault = float(faults["t_monotonic"].min())
    ends = events[events["kind"].isin(("fault_end", "fault_step")) & (events["t_monotonic"] >= t_fault)]
    m.t_fault_end = float(ends["t_monotonic"].max()) if len(ends) else t_fault
    t_end_rows = events[events["kind"] == "trial_end"]
    t_end = float(t_end_rows["t_monotonic"].max()) if len(t_end_rows) else float(events["t_monotonic"].max())
    m.observed_ms = _ms(t_end, t_fault)
    peers = events[events["peer"].isin(PEERS)]
    states = ("ice_state", "connection_state")
    m.t_disconnected = _first(peers, t_fault, states, ("disconnected",))
    m.t_failed = _first(peers, t_fault, states, ("failed",))
    m.t_network_change = _first(peers, t_fault, ("network_change",))
    detected = [t for t in (m.t_disconnected, m.t_failed, m.t_network_change) if not math.isnan(t)]
    m.t_detected = min(detected) if detected else NAN
    restarts = peers[(peers["kind"] == "restart") & (peers["t_monotonic"] >= t_fault)]
    m.restarts = int(len(restarts))
    m.t_first_restart = float(restarts["t_monotonic"].min()) if len(restarts) else NAN
    offers = negotiations(peers, t_fault)
    m.negotiations = len(offers)
    m.negotiation_list = json.dumps([[n.offerer, n.negotiation_id] + [round(t - t_fault, 4) if math.isfinite(t) else None
                                                                      for t in (n.t_restart, n.t_offer, n.t_answer)]
                                     for n in offers])
    m.rollbacks = _rollbacks(peers, t_fault)
    m.t_connected = _first(peers, t_fault, ("connection_state",), ("connected",))

    through_sfu = bool((events["kind"] == "sfu_session").any())  # lab.experiment.sfu: legs via Janus
    m.directions = [direction_metrics(events, r, t_fault, t_end, recover_s, m.t_fault_end, through_sfu)
                    for r in receivers]
    cut_over = {p: _cut_over(events, p, t_fault) for p in PEERS}
    for d in m.directions:
        d.t_sender_cut_over = cut_over[next(p for p in PEERS if p != d.receiver)][0]
    gaps = {d.receiver: d.media_gap_ms for d in m.directions}
    m.media_gap_ms_at_offerer = gaps.get("offerer", NAN)
    m.media_gap_ms_at_answerer = gaps.get("answerer", NAN)
    m.freezes = sum(d.freezes for d in m.directions)
    m.freeze_ms = sum(d.freeze_ms for d in m.directions)
    m.outages = max((d.outages for d in m.directions), default=0)
    for name in ("units_lost", "units_lost_total", "units_dropped_by_sender"):
        values = [getattr(d, name) for d in m.directions if not math.isnan(getattr(d, name))]
        setattr(m, name, float(sum(values)) if values else NAN)
    m.interrupted = not m.directions or any(d.interrupted for d in m.directions)
    m.recovered = bool(m.directions) and all(d.resumed for d in m.directions)
    if m.recovered and not m.interrupted:
        # every direction kept its path without an outage: nothing recovered, nothing to time
        m.recovered = False
        m.failure_reason = NOT_INTERRUPTED
        m.resumed_on = "old-path"  # the media never left it
        m.media_gap_ms_at_offerer = m.media_gap_ms_at_answerer = NAN
        return m
    if not m.recovered:
        m.failure_reason = "; ".join(d.reason for d in m.directions if d.reason) or None
        return m
    last = max(m.directions, key=lambda d: d.t_media_resumed)
    m.t_media_resumed = last.t_media_resumed
    m.media_gap_ms = max(d.media_gap_ms for d in m.directions)
    m.recovery_ms = _ms(m.t_media_resumed, t_fault)
    for name in ("disconnected_to_media_ms", "failed_to_media_ms"):
        values = [getattr(d, name) for d in m.directions if math.isfinite(getattr(d, name))]
        setattr(m, name, max(values) if values else NAN)
    # a direction the fault never interrupted stayed on its path: it says nothing of the recovery
    interrupted = [d for d in m.directions if d.interrupted]
    kinds = {d.resumed_on for d in interrupted}
    m.resumed_on = "old-path" if "old-path" in kinds else "unknown" if "unknown" in kinds else "new-pair"
    m.detection_ms = _ms(m.t_detected, t_fault) if m.t_detected <= m.t_media_resumed else NAN
    if m.resumed_on != "new-pair":
        return m

    # the sender's pair event is no later than the media it carried (a browser's event or stats
    # poll can come after the first packets on the new pair)
    m.t_new_pair = min(last.t_sender_cut_over, last.t_media_resumed) \
        if math.isfinite(last.t_sender_cut_over) and last.resumed_on == "new-pair" else last.t_sender_cut_over
    answered = [n for n in offers if n.t_answer <= m.t_new_pair] if math.isfinite(m.t_new_pair) else []
    if answered:
        worked = max(answered, key=lambda n: n.t_offer)  # a newer offer supersedes
        m.negotiation_id = worked.negotiation_id
        m.t_offer, m.t_answer, m.t_restart = worked.t_offer, worked.t_answer, worked.t_restart
        candidates = []
        for d in m.directions:
            sender = next(p for p in PEERS if p != d.receiver)
            # the receiver's local candidate and the sender's (the receiver's remote one); each
            # peer numbers its own generations
            candidates.append(_candidate_time(peers, d.receiver, d.after.local, d.after.generation, m.t_restart))
            candidates.append(_candidate_time(peers, sender, d.after.remote, cut_over[sender][1], m.t_restart))
        known = [t for t in candidates if math.isfinite(t)]
        m.t_candidate = max(known) if known else NAN
    m.decision_ms = _ms(m.t_restart, m.t_detected)
    m.signaling_ms = _ms(m.t_answer, m.t_restart)
    m.gathering_ms = _ms(m.t_candidate, m.t_restart)
    ready = max(m.t_answer, m.t_candidate) if math.isfinite(m.t_candidate) else m.t_answer
    m.checks_ms = _ms(m.t_new_pair, ready)
    m.restart_ms = _ms(m.t_new_pair, m.t_restart)
    m.first_media_ms = _ms(m.t_media_resumed, m.t_new_pair)
    return m


def metrics_table(events: pd.DataFrame, recover_s: float | None = None) -> pd.DataFrame:
    """One row of metrics per trial_id of an events table."""
    rows = []
    for trial_id, group in events.groupby("trial_id", sort=False):
        row = trial_metrics(group, recover_s).row()
        row["trial_id"] = trial_id
        rows.append(row)
    return pd.DataFrame(rows)
