"""Per-trial metrics against hand-computed values on small synthetic event logs.

The synthetic call: one unit every 20 ms from t = 100.0 in each direction (sent at 100 + 0.02 k,
received 5 ms later), sequence numbers starting at 65530 (so they wrap). The pre-fault rate is
50 units/s, so steady flow needs 45 units in a second. The fault is at 104.999: the last unit
received before it is k = 249 (104.985).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import numpy as np
import pytest

from lab.experiment import continuity, metrics
from lab.experiment.events import event_row, events_frame
from lab.experiment.metrics import count_freezes, metrics_table, trial_metrics

T = "trial-1"
OFFERER_PAIR = {"local_type": "host", "local_address": "10.0.1.2:5000", "remote_type": "srflx",
                "remote_address": "198.51.100.20:6000"}
NEW_OFFERER_PAIR = {"local_type": "host", "local_address": "10.0.2.2:5002", "remote_type": "srflx",
                    "remote_address": "198.51.100.20:6002"}
ANSWERER_PAIR = {"local_type": "host", "local_address": "10.0.9.2:6000", "remote_type": "srflx",
                 "remote_address": "198.51.100.10:5000"}
NEW_ANSWERER_PAIR = {"local_type": "host", "local_address": "10.0.9.2:6002", "remote_type": "srflx",
                     "remote_address": "198.51.100.11:5002"}


def media(sender: str, receiver: str, ssrc: int, dropped: Iterable[int], latency: float = 0.005,
          units: int = 500, t0: float = 100.0, generation: Callable[[int], int | None] = lambda k: None,
          not_sent: Iterable[int] = (), arrival: Callable[[int], dict | None] = lambda k: None) -> list[dict]:
    """`arrival`: the pair unit k arrived on, as lab.rtc stamps it (None: not stamped)."""
    rows = []
    dropped, not_sent = set(dropped), set(not_sent)
    for k in range(units):
        t_send = t0 + 0.02 * k
        seq = (65530 + k) % 65536
        if k not in not_sent:
            rows.append(event_row(T, sender, {"t": t_send, "kind": "media_tx", "seq": seq, "ssrc": ssrc}))
        if k not in dropped and k not in not_sent:
            fields = {"t": t_send + latency, "kind": "media_rx", "seq": seq, "ssrc": ssrc}
            if generation(k) is not None:
                fields["generation"] = generation(k)
            fields.update(arrival(k) or {})
            rows.append(event_row(T, receiver, fields))
    return rows


def ev(peer: str, t: float, kind: str, **fields: object) -> dict:
    return event_row(T, peer, {"t": t, "kind": kind, **fields})


def restart_trial(answerer_cut_over: float = 107.155, resumed_gen: Callable[[int], int] = lambda k: int(k >= 300),
                  t_end: float = 109.99) -> list[dict]:
    """A 3 s outage; the offerer restarts on 'disconnected' and media resumes on generation 1."""
    rows = [
        ev("offerer", 100.0, "selected_pair", generation=0, **OFFERER_PAIR),
        ev("answerer", 100.0, "selected_pair", generation=0, **ANSWERER_PAIR),
        ev("orchestrator", 104.999, "fault", type="blackhole"),
        ev("offerer", 106.0, "ice_state", state="checking"),  # noise
        ev("offerer", 107.0, "ice_state", state="disconnected"),
        ev("answerer", 107.3, "connection_state", state="disconnected"),
        ev("offerer", 107.01, "restart", action="restart-ice", reason="disconnected"),
        ev("offerer", 107.02, "offer_sent", ice_ufrag="abcd", negotiation_id="n1"),
        ev("offerer", 107.1, "answer_received", negotiation_id="n1"),
        # the offerer's first candidate of generation 1 on the interface of its new pair's local
        # candidate (wlan1), after an earlier one on another interface
        ev("offerer", 107.03, "candidate_sent", generation=1, type="host", address="10.0.3.2", port=1,
           interface="eth9"),
        ev("offerer", 107.12, "candidate_sent", generation=1, type="host", address="10.0.2.2", port=5002,
           interface="wlan1"),
        ev("offerer", 107.15, "selected_pair", generation=1, **NEW_OFFERER_PAIR),
        ev("answerer", answerer_cut_over, "selected_pair", generation=1, **NEW_ANSWERER_PAIR),
        ev("offerer", 107.16, "connection_state", state="connected"),
        ev("orchestrator", t_end, "trial_end"),
    ]
    rows += media("answerer", "offerer", 1111, range(250, 400), generation=resumed_gen)
    rows += media("offerer", "answerer", 2222, range(250, 410), generation=resumed_gen)
    return rows


def test_restart_on_a_new_pair_hand_computed() -> None:
    m = trial_metrics(events_frame(restart_trial()))
    assert m.recovered and m.failure_reason is None and m.resumed_on == "new-pair"
    assert m.t_fault == 104.999 and m.observed_ms == pytest.approx(4991.0)
    assert m.detection_ms == pytest.approx(2001.0)
    assert m.decision_ms == pytest.approx(10.0)
    assert m.negotiation_id == "n1" and m.negotiations == 1 and m.rollbacks == 0
    assert m.signaling_ms == pytest.approx(90.0)
    assert m.gathering_ms == pytest.approx(110.0)  # 107.01 -> 107.12 (wlan1, not eth9)
    # media resumed last at the answerer (108.205); its sender, the offerer, was on generation 1 at 107.15
    assert m.t_new_pair == pytest.approx(107.15)
    assert m.checks_ms == pytest.approx(30.0)  # from the candidate at 107.12, later than the answer
    assert m.restart_ms == pytest.approx(140.0)
    # last unit before the gap k=249 at 104.985; resumed at k=400 (108.005) / k=410 (108.205)
    assert m.media_gap_ms_at_offerer == pytest.approx(3020.0)
    assert m.media_gap_ms_at_answerer == pytest.approx(3220.0)
    assert m.media_gap_ms == pytest.approx(3220.0)
    assert m.first_media_ms == pytest.approx(1055.0)
    assert m.recovery_ms == pytest.approx(3206.0)
    # 2001 + 10 + 90 + (107.12 - 107.1) 20 + 30 + 1055: the phases add up to the recovery
    phases = (m.detection_ms, m.decision_ms, m.signaling_ms, 20.0, m.checks_ms, m.first_media_ms)
    assert sum(phases) == pytest.approx(m.recovery_ms)
    assert m.units_lost == 150 + 160 and m.units_lost_total == 150 + 160
    assert m.units_dropped_by_sender == 0
    assert m.freezes == 2 and m.freeze_ms == pytest.approx(6240.0) and m.outages == 1
    # per receiver: own 'disconnected' -> own media back
    offerer, answerer = m.directions
    assert offerer.disconnected_to_media_ms == pytest.approx(1005.0)
    assert answerer.disconnected_to_media_ms == pytest.approx(905.0)
    assert m.disconnected_to_media_ms == pytest.approx(1005.0)
    assert np.isnan(m.failed_to_media_ms)
    row = m.row()
    assert row["resumed_on_offerer"] == "new-pair"
    assert row["pair_before_offerer"] == "host 10.0.1.2:5000 -> srflx 198.51.100.20:6000"
    assert row["pair_after_offerer"] == "host 10.0.2.2:5002 -> srflx 198.51.100.20:6002"
    assert row["generation_before_answerer"] == 0 and row["generation_after_answerer"] == 1


def test_media_back_on_the_old_path_reports_no_restart_phases() -> None:
    # the outage ended by itself: media came back on generation 0; the restart finished later
    rows = [r for r in restart_trial(resumed_gen=lambda k: 0) if r["kind"] != "selected_pair"]
    rows += [ev("offerer", 100.0, "selected_pair", generation=0, **OFFERER_PAIR),
             ev("answerer", 100.0, "selected_pair", generation=0, **ANSWERER_PAIR),
             ev("offerer", 108.35, "selected_pair", generation=1, **NEW_OFFERER_PAIR)]
    m = trial_metrics(events_frame(rows))
    assert m.recovered and m.resumed_on == "old-path"
    assert m.recovery_ms == pytest.approx(3206.0) and m.detection_ms == pytest.approx(2001.0)
    for name in ("signaling_ms", "gathering_ms", "checks_ms", "first_media_ms", "restart_ms", "decision_ms"):
        assert np.isnan(getattr(m, name)), name
    assert m.row()["pair_after_offerer"] == m.row()["pair_before_offerer"]


def test_without_generations_the_pair_at_arrival_decides() -> None:
    # a browser's media_rx has no generation: the pair selected at the receiver when the unit came
    rows = restart_trial(resumed_gen=lambda k: None)
    m = trial_metrics(events_frame(rows))
    assert m.resumed_on == "new-pair" and m.t_new_pair == pytest.approx(107.15)


def test_a_loss_burst_is_one_gap_not_its_longest_silence() -> None:
    # 90 % loss for 3 s towards the offerer: only k = 250, 260, ..., 390 arrive
    burst = [k for k in range(250, 400) if k % 10]
    rows = [ev("orchestrator", 104.999, "fault", type="loss_burst"), ev("orchestrator", 107.999, "fault_end"),
            ev("orchestrator", 109.99, "trial_end")]
    rows += media("answerer", "offerer", 1, burst)
    rows += media("offerer", "answerer", 2, [])
    m = trial_metrics(events_frame(rows))
    offerer = m.directions[0]
    # the first freeze opens at k=250 (105.005); k=390 -> 400 is the last 200 ms silence, and k=400
    # (108.005) is the first unit with 45 units in its second (k=390: 1 + 40 = 41)
    assert offerer.freezes == 15 and offerer.freeze_ms == pytest.approx(3000.0)
    assert offerer.t_gap_start == pytest.approx(105.005)
    assert offerer.media_gap_ms == pytest.approx(3000.0)
    assert m.media_gap_ms == pytest.approx(3000.0) and m.recovered and m.outages == 1
    assert offerer.units_lost == 149 - 14  # k=251..399 but the 14 that came
    assert m.directions[1].media_gap_ms == pytest.approx(20.0)  # the other way was not hit


def test_two_outages_are_both_counted() -> None:
    rows = [ev("orchestrator", 104.999, "fault", type="blackhole"), ev("orchestrator", 111.99, "trial_end")]
    rows += media("answerer", "offerer", 1, list(range(250, 300)) + list(range(400, 450)), units=600)
    rows += media("offerer", "answerer", 2, [], units=600)
    m = trial_metrics(events_frame(rows))
    offerer = m.directions[0]
    # k=249 (104.985) -> k=300 (106.005), steady; k=399 (107.985) -> k=450 (109.005), steady
    assert offerer.outages == 2 and m.outages == 2
    assert offerer.media_gap_ms == pytest.approx(1020.0)
    assert offerer.freezes == 2 and offerer.freeze_ms == pytest.approx(2040.0)
    assert [round(s, 3) for s, _, _ in offerer.freeze_list] == [-0.014, 2.986]
    assert m.recovered and m.units_lost == 50 and m.units_lost_total == 100


def test_not_recovered_counts_the_silence_as_a_freeze() -> None:
    rows = [ev("orchestrator", 104.999, "fault", type="blackhole"), ev("orchestrator", 109.99, "trial_end")]
    rows += media("answerer", "offerer", 1, range(250, 500))  # never resumes
    rows += media("offerer", "answerer", 2, range(250, 400))
    m = trial_metrics(events_frame(rows))
    assert not m.recovered and m.resumed_on == "none"
    assert "did not resume at the offerer" in m.failure_reason
    assert np.isnan(m.media_gap_ms) and np.isnan(m.recovery_ms)
    offerer = m.directions[0]
    # the silence from k=249 (104.985) to the end (109.99) is an unfinished freeze: not 0 freezes
    assert offerer.freezes == 1 and offerer.freeze_ms == pytest.approx(5005.0)
    assert offerer.freeze_list[0][2] is False
    # sent after the gap opened and more than 1 s before the end (k <= 449), never received
    assert offerer.units_lost == 200 and offerer.units_lost_total == 200
    assert m.directions[1].media_gap_ms == pytest.approx(3020.0)


def test_recovery_window_runs_from_the_end_of_the_fault() -> None:
    rows = [ev("orchestrator", 104.999, "fault", type="blackhole"), ev("orchestrator", 109.99, "trial_end")]
    rows += media("answerer", "offerer", 1, range(250, 400))
    rows += media("offerer", "answerer", 2, range(250, 400))
    assert not trial_metrics(events_frame(rows), recover_s=2.0).recovered  # 108.005 > 104.999 + 2
    lifted = rows + [ev("orchestrator", 107.9, "fault_end")]
    m = trial_metrics(events_frame(lifted), recover_s=2.0)
    assert m.recovered and m.t_fault_end == pytest.approx(107.9)


def test_media_that_stops_again_is_not_recovered() -> None:
    rows = [ev("orchestrator", 104.999, "fault", type="blackhole"), ev("orchestrator", 109.99, "trial_end")]
    rows += media("answerer", "offerer", 1, list(range(250, 300)) + list(range(400, 500)))
    rows += media("offerer", "answerer", 2, [])
    m = trial_metrics(events_frame(rows))
    assert not m.recovered and "stopped again" in m.failure_reason


def test_units_the_sender_never_sent_are_told_apart() -> None:
    rows = [ev("orchestrator", 104.999, "fault", type="blackhole"), ev("orchestrator", 109.99, "trial_end")]
    rows += media("answerer", "offerer", 1, range(250, 400), not_sent=range(300, 311))
    rows += media("offerer", "answerer", 2, [])
    m = trial_metrics(events_frame(rows))
    assert m.units_lost == 150 and m.units_dropped_by_sender == 11


def test_negotiations_paired_by_identity() -> None:
    # a first restart's offer is never answered; the second one's answer is what brought the pair
    rows = [r for r in restart_trial() if r["kind"] not in ("restart", "offer_sent", "answer_received")]
    rows += [ev("offerer", 105.5, "restart", reason="disconnected"),
             ev("offerer", 105.6, "offer_sent", negotiation_id="n0"),
             ev("answerer", 105.7, "negotiation", event="glare", action="implicit_rollback"),
             ev("offerer", 107.01, "restart", reason="disconnected"),
             ev("offerer", 107.02, "offer_sent", negotiation_id="n1"),
             ev("offerer", 107.1, "answer_received", negotiation_id="n1")]
    m = trial_metrics(events_frame(rows))
    assert m.negotiations == 2 and m.rollbacks == 1 and m.restarts == 2
    assert json.loads(m.negotiation_list) == [["offerer", "n0", pytest.approx(0.501), pytest.approx(0.601), None],
                                              ["offerer", "n1", pytest.approx(2.011), pytest.approx(2.021),
                                               pytest.approx(2.101)]]
    assert m.negotiation_id == "n1"
    assert m.t_first_restart == pytest.approx(105.5)
    assert m.signaling_ms == pytest.approx(90.0)  # 107.01 -> 107.1, not 105.5 -> 107.1
    # an answer to the unanswered offer arriving late does not pair with the restart that worked
    late = rows + [ev("offerer", 107.14, "answer_received", negotiation_id="n0")]
    assert trial_metrics(events_frame(late)).signaling_ms == pytest.approx(90.0)


def test_negotiations_without_ids_pair_with_the_last_offer() -> None:
    rows = [r for r in restart_trial()]
    for r in rows:
        if r["kind"] in ("offer_sent", "answer_received"):
            r["detail"] = "{}"
    m = trial_metrics(events_frame(rows))
    assert m.signaling_ms == pytest.approx(90.0) and m.negotiations == 1


def test_make_before_break_has_no_gap() -> None:
    rows = [ev("orchestrator", 105.0, "fault", type="handover")]
    rows += media("answerer", "offerer", 1, range(0))
    rows += media("offerer", "answerer", 2, range(0))
    m = trial_metrics(events_frame(rows))
    assert m.recovered and m.media_gap_ms == pytest.approx(20.0)
    assert m.units_lost == 0 and m.freezes == 0 and m.outages == 0
    # neither peer says which path carried its units: the path is unknown, not the old one, and
    # the trial cannot be shown untouched: it counts as interrupted (resumed on 'unknown')
    assert np.isnan(m.detection_ms) and m.restarts == 0 and m.resumed_on == "unknown" and m.interrupted


def test_no_fault_and_no_media() -> None:
    m = trial_metrics(events_frame([event_row(T, "offerer", {"t": 1.0, "kind": "agent_ready"})]))
    assert not m.recovered and m.failure_reason == "no fault was injected"
    rows = [event_row(T, "orchestrator", {"t": 1.0, "kind": "fault", "type": "x"})]
    m = trial_metrics(events_frame(rows))
    assert "no media at the offerer before the fault" in m.failure_reason


def test_freeze_rule() -> None:
    intervals = [20.0] * 10 + [100.0] + [20.0] * 5 + [200.0] + [20.0] * 3
    arrivals = np.concatenate([[0.0], np.cumsum(intervals) / 1000.0])
    count, frozen = count_freezes(arrivals)
    # avg before the 100 ms interval is 20 -> threshold 170: no freeze; 200 > max(150+avg, 3 avg)
    assert count == 1 and frozen == pytest.approx(200.0)
    slow = np.arange(0, 40) * 0.1  # 100 ms frames: threshold max(250, 300) = 300
    slow = np.append(slow, slow[-1] + 0.29)
    assert count_freezes(slow) == (0, 0.0)
    # the 290 ms interval joined the average: (29 x 100 + 290) / 30 = 106.3 -> threshold 319 ms
    assert count_freezes(np.append(slow, slow[-1] + 0.31))[0] == 0
    assert count_freezes(np.append(slow, slow[-1] + 0.33))[0] == 1
    # an observation ending 200 ms after the last of 20 ms units ends inside a freeze
    steady = np.arange(0, 20) * 0.02
    assert [f.ended for f in continuity.freezes(steady, t_end=steady[-1] + 0.2)] == [False]
    assert continuity.freezes(steady, t_end=steady[-1] + 0.1) == []


def test_metrics_table_one_row_per_trial() -> None:
    rows = restart_trial()
    other = [dict(r, trial_id="trial-2") for r in rows]
    table = metrics_table(events_frame(rows + other))
    assert list(table["trial_id"]) == [T, "trial-2"]
    assert table["media_gap_ms"].tolist() == pytest.approx([3220.0, 3220.0])


def pair_data(peer: str, t: float, edge: str, pair: dict[str, str], generation: int,
              window_ms: float | None = 50.0) -> dict:
    """A browser's pair_rx edge (lab/runtime/chromium/page/peer.js)."""
    fields: dict[str, object] = {"edge": edge, "generation": generation, **pair}
    if edge == "start":
        fields["window_ms"] = window_ms
    return ev(peer, t, "pair_rx", **fields)


def browser_restart_trial(offerer_cut_over: float = 107.15) -> list[dict]:
    """restart_trial as two browsers report it: units without a generation, the answerer's
    selected-pair event 45 ms after its first unit on the new pair (108.205), and each receiver's
    per-pair data edges, which lag the units by a poll (the new pairs' windows open 15 ms after
    their first unit)."""
    rows = [r for r in restart_trial(answerer_cut_over=108.25, resumed_gen=lambda k: None)
            if not (r["kind"] == "selected_pair" and r["peer"] == "offerer" and r["t_monotonic"] > 107)]
    rows.append(ev("offerer", offerer_cut_over, "selected_pair", generation=1, **NEW_OFFERER_PAIR))
    rows += [pair_data("offerer", 100.05, "start", OFFERER_PAIR, 0, None),
             pair_data("offerer", 105.02, "stop", OFFERER_PAIR, 0),
             pair_data("offerer", 108.07, "start", NEW_OFFERER_PAIR, 1),  # first unit 108.005
             pair_data("answerer", 100.05, "start", ANSWERER_PAIR, 0, None),
             pair_data("answerer", 105.03, "stop", ANSWERER_PAIR, 0),
             pair_data("answerer", 108.27, "start", NEW_ANSWERER_PAIR, 1)]  # first unit 108.205
    return rows


def test_a_late_pair_event_cannot_place_a_browser_unit() -> None:
    # without data edges: the answerer's pair changed 45 ms after its first unit back, so which
    # pair carried that unit is unknown (not the old one), and no restart phase is claimed
    rows = [r for r in browser_restart_trial() if r["kind"] != "pair_rx"]
    m = trial_metrics(events_frame(rows))
    assert m.recovered and [d.resumed_on for d in m.directions] == ["new-pair", "unknown"]
    assert m.resumed_on == "unknown" and "answerer" in str(m.directions[1].path_unknown)
    assert np.isnan(m.signaling_ms) and np.isnan(m.checks_ms)
    assert m.row()["resumed_on_answerer"] == "unknown"


def test_browser_units_are_placed_by_their_pair_data() -> None:
    m = trial_metrics(events_frame(browser_restart_trial()))
    assert m.recovered and [d.resumed_on for d in m.directions] == ["new-pair", "new-pair"]
    assert m.resumed_on == "new-pair"
    row = m.row()
    assert row["pair_before_answerer"] == "host 10.0.9.2:6000 -> srflx 198.51.100.10:5000"
    assert row["pair_after_answerer"] == "host 10.0.9.2:6002 -> srflx 198.51.100.11:5002"
    assert row["generation_before_answerer"] == 0 and row["generation_after_answerer"] == 1
    # the same phases as the aiortc trial (test_restart_on_a_new_pair_hand_computed)
    assert m.signaling_ms == pytest.approx(90.0) and m.t_new_pair == pytest.approx(107.15)
    assert m.checks_ms == pytest.approx(30.0) and m.first_media_ms == pytest.approx(1055.0)


def test_a_sender_pair_event_after_its_media_is_bounded_by_the_media() -> None:
    # the offerer (sender of the direction that resumed last, at the answerer: 108.205) reported
    # its new pair at 108.3: the pair carried media by 108.205, so it was selected by then
    m = trial_metrics(events_frame(browser_restart_trial(offerer_cut_over=108.3)))
    assert m.resumed_on == "new-pair" and m.t_new_pair == pytest.approx(108.205)
    assert m.first_media_ms == pytest.approx(0.0) and m.checks_ms == pytest.approx(1085.0)


def test_overlapping_pair_data_is_unknown() -> None:
    # the old pair's data stopped within the tolerance of the new pair's start: the counters
    # cannot tell which carried the first unit back
    rows = [r for r in browser_restart_trial() if not (r["kind"] == "pair_rx" and r["peer"] == "answerer"
                                                          and r["t_monotonic"] > 105)]
    rows += [pair_data("answerer", 108.25, "stop", ANSWERER_PAIR, 0),
             pair_data("answerer", 108.27, "start", NEW_ANSWERER_PAIR, 1)]
    m = trial_metrics(events_frame(rows))
    assert m.directions[1].resumed_on == "unknown" and m.resumed_on == "unknown"


def test_new_pair_is_the_sender_cut_over_of_the_direction_that_resumed_last() -> None:
    # the answerer -> offerer direction resumes last (k=420: 108.405); its sender is the answerer
    rows = [r for r in restart_trial(answerer_cut_over=107.3) if r["kind"] not in ("media_tx", "media_rx")]
    rows += media("answerer", "offerer", 1111, range(250, 420), generation=lambda k: int(k >= 300))
    rows += media("offerer", "answerer", 2222, range(250, 400), generation=lambda k: int(k >= 300))
    m = trial_metrics(events_frame(rows))
    assert m.t_media_resumed == pytest.approx(108.405)
    assert m.t_new_pair == pytest.approx(107.3)
    assert m.restart_ms == pytest.approx(290.0)
    assert m.first_media_ms == pytest.approx(1105.0)


def test_units_lost_across_a_new_peer_connection() -> None:
    # a full reconnect: SSRC 1 stops at k=249 (its units 250..299 were sent, never received), a
    # new RTCPeerConnection sends SSRC 9 from k=300, whose first 20 units are lost too
    rows = [ev("orchestrator", 104.999, "fault", type="handover"), ev("orchestrator", 111.99, "trial_end")]
    rows += media("answerer", "offerer", 1, range(250, 300), units=300)
    rows += [r for r in media("answerer", "offerer", 9, range(300, 320), units=600) if r["t_monotonic"] >= 106.0]
    rows += media("offerer", "answerer", 2, [], units=600)
    m = trial_metrics(events_frame(rows))
    offerer = m.directions[0]
    assert offerer.resumed and offerer.media_gap_ms == pytest.approx(1420.0)  # k=249 -> k=320 (106.405)
    assert offerer.units_lost == 50 + 20


def test_a_burst_of_queued_units_before_silence_is_not_steady_flow() -> None:
    # the receiver stalls for a second just before the fault: k=200..249 all arrive at 105.0, then
    # the fault's outage until k=400. The burst holds 50 units in a second (more than 90 % of the
    # pre-fault rate), but a freeze begins inside that second: not steady flow, so one gap, from
    # the last unit before the stall (k=199, 103.985) to k=400 (108.005)
    rows = [ev("orchestrator", 104.999, "fault", type="handover"), ev("orchestrator", 109.99, "trial_end")]
    for r in media("answerer", "offerer", 1, range(250, 400)):
        k = (r["seq"] - 65530) % 65536
        rows.append(dict(r, t_monotonic=105.0) if r["kind"] == "media_rx" and 200 <= k < 250 else r)
    rows += media("offerer", "answerer", 2, [])
    m = trial_metrics(events_frame(rows))
    offerer = m.directions[0]
    assert offerer.outages == 1
    assert offerer.t_gap_start == pytest.approx(103.985)
    assert offerer.t_media_resumed == pytest.approx(108.005)
    assert offerer.media_gap_ms == pytest.approx(4020.0)


def test_an_uninterrupted_direction_does_not_make_the_trial_old_path() -> None:
    rows = [r for r in restart_trial() if not (r["kind"] in ("media_rx", "media_tx") and r["ssrc"] == 2222)]
    rows += media("offerer", "answerer", 2222, [], generation=lambda k: 0)  # never interrupted
    m = trial_metrics(events_frame(rows))
    assert [d.resumed_on for d in m.directions] == ["new-pair", "old-path"]
    assert m.directions[1].outages == 0
    assert [d.interrupted for d in m.directions] == [True, False] and m.interrupted and m.recovered
    assert m.resumed_on == "new-pair" and m.t_new_pair == pytest.approx(107.155)  # the answerer sent the last
    row = trial_metrics(events_frame(rows)).row()
    assert row["interrupted"] and row["interrupted_offerer"] and not row["interrupted_answerer"]


def untouched_trial() -> list[dict]:
    """A handover that left the media alone: both peers had selected the pair on the network that
    stays (the phone's LTE pair in the shipped handover), so every unit before and after the fault
    comes over generation 0 on that pair, 20 ms apart."""
    rows = [ev("offerer", 100.0, "selected_pair", generation=0, **OFFERER_PAIR),
            ev("answerer", 100.0, "selected_pair", generation=0, **ANSWERER_PAIR),
            ev("orchestrator", 104.999, "fault", type="handover"),
            ev("orchestrator", 109.99, "trial_end")]
    rows += media("answerer", "offerer", 1, [], generation=lambda k: 0)
    rows += media("offerer", "answerer", 2, [], generation=lambda k: 0)
    return rows


def test_a_trial_the_fault_never_interrupted_is_not_a_recovery() -> None:
    m = trial_metrics(events_frame(untouched_trial()))
    assert [d.outages for d in m.directions] == [0, 0]
    assert [d.resumed_on for d in m.directions] == ["old-path", "old-path"]
    assert [d.interrupted for d in m.directions] == [False, False]
    # before: recovered with a 20 ms "gap" (the fault to the next unit on the untouched path)
    assert not m.interrupted and not m.recovered
    assert m.failure_reason is not None and "interrupted no direction" in m.failure_reason
    assert np.isnan(m.media_gap_ms) and np.isnan(m.recovery_ms)
    assert np.isnan(m.media_gap_ms_at_offerer) and np.isnan(m.media_gap_ms_at_answerer)
    assert m.resumed_on == "old-path" and np.isnan(m.detection_ms)
    row = m.row()
    assert row["interrupted"] is False and row["recovered"] is False


def test_an_outage_on_the_old_path_is_an_interruption() -> None:
    """The path is kept but the media stopped for 3 s: interrupted, recovered on the old path."""
    rows = [r for r in untouched_trial() if r["kind"] not in ("media_rx", "media_tx")]
    rows += media("answerer", "offerer", 1, range(250, 400), generation=lambda k: 0)
    rows += media("offerer", "answerer", 2, range(250, 400), generation=lambda k: 0)
    m = trial_metrics(events_frame(rows))
    assert m.interrupted and m.recovered and m.resumed_on == "old-path"
    assert m.media_gap_ms == pytest.approx(3020.0)


def test_an_outage_after_steady_flow_is_not_the_fault_s() -> None:
    """The fault left the media alone; 3 s later both directions stall for 400 ms (the machine
    under load, seen in a benchmark: a 40 ms handover reported as an 11 s recovery on the old
    path). The stall is an outage of the observation, not the fault's gap."""
    rows = [r for r in untouched_trial() if r["kind"] not in ("media_rx", "media_tx")]
    rows += media("answerer", "offerer", 1, range(400, 420), generation=lambda k: 0)
    rows += media("offerer", "answerer", 2, range(400, 420), generation=lambda k: 0)
    m = trial_metrics(events_frame(rows))
    assert [d.outages for d in m.directions] == [1, 1]
    assert [d.interrupted for d in m.directions] == [False, False]
    assert not m.interrupted and m.failure_reason == metrics.NOT_INTERRUPTED
    assert np.isnan(m.media_gap_ms) and np.isnan(m.recovery_ms)


def test_an_outage_before_steady_flow_is_the_fault_s() -> None:
    """The same stall 0.5 s after the fault, before any second of steady flow: the fault's."""
    rows = [r for r in untouched_trial() if r["kind"] not in ("media_rx", "media_tx")]
    rows += media("answerer", "offerer", 1, range(275, 295), generation=lambda k: 0)
    rows += media("offerer", "answerer", 2, range(275, 295), generation=lambda k: 0)
    m = trial_metrics(events_frame(rows))
    assert m.interrupted and m.recovered and m.resumed_on == "old-path"
    assert m.media_gap_ms == pytest.approx(420.0)


def test_a_direction_that_never_resumed_is_interrupted() -> None:
    rows = [r for r in untouched_trial() if not (r["kind"] in ("media_rx", "media_tx") and r["ssrc"] == 2)]
    rows += media("offerer", "answerer", 2, range(250, 500), generation=lambda k: 0)
    m = trial_metrics(events_frame(rows))
    assert m.interrupted and not m.recovered and m.failure_reason != metrics.NOT_INTERRUPTED


def test_a_fast_handover_under_a_freeze_still_moves_the_media_to_a_new_pair() -> None:
    """Both directions silent for less than a freeze (80 ms at 20 ms units), but the media moved
    to generation 1: 'new-pair', and each gap from the last unit on the old path to the first
    on the new one (not to a unit still in flight on the old path after the fault)."""
    moved = lambda k: int(k >= 254)  # noqa: E731
    rows = [ev("offerer", 100.0, "selected_pair", generation=0, **OFFERER_PAIR),
            ev("answerer", 100.0, "selected_pair", generation=0, **ANSWERER_PAIR),
            ev("orchestrator", 104.999, "fault", type="handover"),
            ev("offerer", 105.06, "selected_pair", generation=1, **NEW_OFFERER_PAIR),
            ev("answerer", 105.07, "selected_pair", generation=1, **NEW_ANSWERER_PAIR),
            ev("orchestrator", 109.99, "trial_end")]
    # k = 250 was in flight on the old path (arrives 105.005, after the fault); 251-253 lost
    rows += media("answerer", "offerer", 1, range(251, 254), generation=moved)
    rows += media("offerer", "answerer", 2, range(251, 254), generation=moved)
    m = trial_metrics(events_frame(rows))
    assert [d.outages for d in m.directions] == [0, 0]
    assert [d.resumed_on for d in m.directions] == ["new-pair", "new-pair"]
    assert m.recovered and m.resumed_on == "new-pair" and m.interrupted  # a path change interrupts
    for d in m.directions:
        assert d.t_gap_start == pytest.approx(105.005) and d.t_media_resumed == pytest.approx(105.085)
        assert d.media_gap_ms == pytest.approx(80.0) and d.units_lost == 3


def test_a_fast_handover_between_browsers_is_placed_by_pair_data() -> None:
    """The fast handover above as two browsers report it: units without a generation, pair
    events late, the pair data edges placing each unit. k = 250 was in flight on the old pair
    (its last packet 105.005), the new pair's data began after 105.07 (first unit 105.085)."""
    rows = [ev("orchestrator", 104.999, "fault", type="handover"),
            ev("offerer", 105.12, "selected_pair", generation=1, **NEW_OFFERER_PAIR),
            ev("answerer", 105.13, "selected_pair", generation=1, **NEW_ANSWERER_PAIR),
            ev("orchestrator", 109.99, "trial_end")]
    for peer, old, new in (("offerer", OFFERER_PAIR, NEW_OFFERER_PAIR), ("answerer", ANSWERER_PAIR, NEW_ANSWERER_PAIR)):
        rows += [pair_data(peer, 100.05, "start", old, 0, None), pair_data(peer, 105.005, "stop", old, 0),
                 pair_data(peer, 105.12, "start", new, 1)]
    rows += media("answerer", "offerer", 1, range(251, 254))
    rows += media("offerer", "answerer", 2, range(251, 254))
    m = trial_metrics(events_frame(rows))
    assert [d.resumed_on for d in m.directions] == ["new-pair", "new-pair"] and m.resumed_on == "new-pair"
    for d in m.directions:
        assert d.t_gap_start == pytest.approx(105.005) and d.t_media_resumed == pytest.approx(105.085)
        assert d.before.generation == 0 and d.after.generation == 1


# A move inside ICE generation 0 (the standby Wi-Fi -> LTE handover without a restart): the
# answerer (controlled) follows the phone's nomination at 105.99 and its media reaches the phone's
# LTE socket from 106.005 (k = 300), but the phone's own selected pair moves only at 107.0; its
# media reaches the answerer over the LTE pair from 107.005 (k = 350). Offerer = the phone.
PHONE_LTE_PAIR = {"local_type": "host", "local_address": "10.0.2.2:5002", "remote_type": "srflx",
                  "remote_address": "198.51.100.20:6000"}
PEER_TO_LTE_PAIR = {"local_type": "host", "local_address": "10.0.9.2:6000", "remote_type": "srflx",
                    "remote_address": "198.51.100.11:5002"}


def move_in_generation_0(stamped: bool) -> list[dict]:
    """`stamped`: each media_rx carries the pair it arrived on (lab.rtc); else only its generation."""
    rows = [ev("offerer", 100.0, "selected_pair", generation=0, **OFFERER_PAIR),
            ev("answerer", 100.0, "selected_pair", generation=0, **ANSWERER_PAIR),
            ev("orchestrator", 104.999, "fault", type="handover"),
            ev("answerer", 105.99, "selected_pair", generation=0, previous_generation=0, **PEER_TO_LTE_PAIR),
            ev("offerer", 107.0, "selected_pair", generation=0, previous_generation=0, **PHONE_LTE_PAIR),
            ev("orchestrator", 109.99, "trial_end")]
    rows += [ev("offerer", 99.9, "candidate_sent", generation=0, type="srflx", address="198.51.100.10", port=5000,
                related_address="10.0.1.2", related_port=5000, interface="wlan0"),
             ev("offerer", 99.9, "candidate_sent", generation=0, type="srflx", address="198.51.100.11", port=5002,
                related_address="10.0.2.2", related_port=5002, interface="wwan0"),
             ev("answerer", 99.95, "candidate_sent", generation=0, type="srflx", address="198.51.100.20", port=6000,
                related_address="10.0.9.2", related_port=6000, interface="eth0")]

    def stamp(old: dict[str, str], new: dict[str, str], first_new: int) -> Callable[[int], dict | None]:
        return (lambda k: new if k >= first_new else old) if stamped else (lambda k: None)

    rows += media("answerer", "offerer", 1, range(250, 300), generation=lambda k: 0,
                  arrival=stamp(OFFERER_PAIR, PHONE_LTE_PAIR, 300))
    rows += media("offerer", "answerer", 2, range(250, 350), generation=lambda k: 0,
                  arrival=stamp(ANSWERER_PAIR, PEER_TO_LTE_PAIR, 350))
    return rows


def test_a_move_inside_generation_0_is_placed_by_the_pair_each_unit_arrived_on() -> None:
    """The unit after the gap came over the LTE pair while the phone still had its Wi-Fi pair
    selected (for another second): 'new-pair', not 'old-path' (the selected pair lags)."""
    m = trial_metrics(events_frame(move_in_generation_0(stamped=True)))
    at_phone, at_peer = m.directions
    assert at_phone.t_media_resumed == pytest.approx(106.005)
    assert at_phone.before.local == "host 10.0.1.2:5000" and at_phone.after.local == "host 10.0.2.2:5002"
    assert at_phone.before.generation == at_phone.after.generation == 0
    assert at_phone.resumed_on == "new-pair" and at_peer.resumed_on == "new-pair"
    assert at_peer.after.remote == "srflx 198.51.100.11:5002"
    assert m.recovered and m.resumed_on == "new-pair"
    assert m.negotiations == 0 and m.recovery_ms == pytest.approx(2006.0)  # the peer hears the phone last


def test_units_without_their_pair_are_checked_against_the_senders_pair() -> None:
    """Runs before lab.rtc stamped the arrival pair: the unit's generation and the receiver's
    selected pair would say Wi-Fi, but the sender had selected the pair to the phone's LTE
    address when it sent the unit (its srflx 198.51.100.11:5002, based on 10.0.2.2:5002), the
    mirror of the pair the phone selected later."""
    m = trial_metrics(events_frame(move_in_generation_0(stamped=False)))
    at_phone, at_peer = m.directions
    assert at_phone.before.local == "host 10.0.1.2:5000" and at_phone.after.local == "host 10.0.2.2:5002"
    assert at_phone.resumed_on == "new-pair" and at_peer.resumed_on == "new-pair"
    assert m.resumed_on == "new-pair"


def test_without_the_senders_candidates_the_selected_pair_still_decides() -> None:
    """Old events with no way to tell the pair from the sender's side: the old rule (the
    receiver's selected pair of the unit's generation) stands."""
    rows = [r for r in move_in_generation_0(stamped=False) if r["kind"] != "candidate_sent"]
    at_phone, _ = trial_metrics(events_frame(rows)).directions
    assert at_phone.after.local == "host 10.0.1.2:5000" and at_phone.resumed_on == "old-path"


def test_a_browser_senders_pair_events_do_not_check_rule_1() -> None:
    """A browser stamps its selected pair when its page hears of it, possibly after its media
    moved: its events cannot tell which pair a unit was sent on, and the old rule stands."""
    rows = move_in_generation_0(stamped=False) + [ev("answerer", 99.0, "browser_ready", pid=1)]
    at_phone, _ = trial_metrics(events_frame(rows)).directions
    assert at_phone.after.local == "host 10.0.1.2:5000" and at_phone.resumed_on == "old-path"
