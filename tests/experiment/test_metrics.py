"""Per-trial metrics against hand-computed values on small synthetic event logs."""

from __future__ import annotations

import numpy as np
import pytest

from lab.experiment.events import events_frame, event_row
from lab.experiment.metrics import count_freezes, metrics_table, trial_metrics

T = "trial-1"


def media(sender: str, receiver: str, ssrc: int, dropped: range, latency: float = 0.005,
          units: int = 500, t0: float = 100.0) -> list[dict]:
    rows = []
    for k in range(units):
        t_send = t0 + 0.02 * k
        rows.append(event_row(T, sender, {"t": t_send, "kind": "media_tx", "seq": (65530 + k) % 65536, "ssrc": ssrc}))
        if k not in dropped:
            rows.append(event_row(T, receiver, {"t": t_send + latency, "kind": "media_rx", "seq": (65530 + k) % 65536, "ssrc": ssrc}))
    return rows


def blackhole_trial(answerer_cut_over: float = 107.155) -> list[dict]:
    rows = [
        event_row(T, "orchestrator", {"t": 104.999, "kind": "fault", "type": "blackhole"}),
        event_row(T, "offerer", {"t": 106.0, "kind": "ice_state", "state": "checking"}),  # noise
        event_row(T, "offerer", {"t": 107.0, "kind": "ice_state", "state": "disconnected"}),
        event_row(T, "answerer", {"t": 107.3, "kind": "connection_state", "state": "disconnected"}),
        event_row(T, "offerer", {"t": 107.01, "kind": "restart", "action": "restart-ice", "reason": "disconnected"}),
        event_row(T, "offerer", {"t": 107.02, "kind": "offer_sent", "ice_ufrag": "abcd"}),
        event_row(T, "offerer", {"t": 107.1, "kind": "answer_received"}),
        event_row(T, "offerer", {"t": 107.15, "kind": "selected_pair", "local_type": "srflx"}),
        event_row(T, "answerer", {"t": answerer_cut_over, "kind": "selected_pair", "local_type": "srflx"}),
        event_row(T, "offerer", {"t": 107.16, "kind": "connection_state", "state": "connected"}),
        event_row(T, "orchestrator", {"t": 110.5, "kind": "trial_end"}),
    ]
    rows += media("answerer", "offerer", 1111, range(250, 400))
    rows += media("offerer", "answerer", 2222, range(250, 410))
    return rows


def test_blackhole_recovery_hand_computed() -> None:
    m = trial_metrics(events_frame(blackhole_trial()))
    assert m.recovered and m.failure_reason is None
    assert m.t_fault == 104.999
    assert m.detection_ms == pytest.approx(2001.0)
    assert m.decision_ms == pytest.approx(10.0)
    # media resumed last at the answerer (108.205, below): its sender, the offerer, cut over at 107.15
    assert m.t_new_pair == pytest.approx(107.15)
    assert m.restart_ms == pytest.approx(140.0)
    assert m.signaling_ms == pytest.approx(90.0)
    assert m.checks_ms == pytest.approx(50.0)
    # last unit before the fault: k=249 received at 104.985; resumed at k=400 (108.005) / k=410 (108.205)
    assert m.media_gap_ms_at_offerer == pytest.approx(3020.0)
    assert m.media_gap_ms_at_answerer == pytest.approx(3220.0)
    assert m.media_gap_ms == pytest.approx(3220.0)
    assert m.t_media_resumed == pytest.approx(108.205)
    assert m.first_media_ms == pytest.approx(1055.0)
    assert m.recovery_ms == pytest.approx(3206.0)
    # 2001 + 10 + 90 + 50 + 1055: the phases of a restart add up to the recovery
    phases = (m.detection_ms, m.decision_ms, m.signaling_ms, m.checks_ms, m.first_media_ms)
    assert sum(phases) == pytest.approx(m.recovery_ms)
    assert m.units_lost == 150 + 160
    assert m.units_lost_total == 150 + 160  # nothing else was lost
    assert m.freezes == 2 and m.freeze_ms == pytest.approx(6240.0)
    assert m.restarts == 1
    assert m.t_connected == pytest.approx(107.16)


def test_not_recovered_and_late_recovery() -> None:
    rows = [event_row(T, "orchestrator", {"t": 104.999, "kind": "fault", "type": "blackhole"}),
            event_row(T, "orchestrator", {"t": 112.0, "kind": "trial_end"})]
    rows += media("answerer", "offerer", 1, range(250, 500))  # never resumes
    rows += media("offerer", "answerer", 2, range(250, 400))
    m = trial_metrics(events_frame(rows))
    assert not m.recovered
    assert "did not resume at the offerer" in m.failure_reason
    assert np.isnan(m.media_gap_ms)
    assert m.media_gap_ms_at_answerer == pytest.approx(3020.0)
    # units sent after the gap opened and > 1 s before the end, never received: k=250..(sent < 111.0)
    d = m.directions[0]
    assert d.units_lost == len([k for k in range(250, 500) if 100 + 0.02 * k < 111.0 - 1e-9])
    late = trial_metrics(events_frame(rows), recover_s=2.0)
    assert not late.recovered and "only after" in late.failure_reason


def test_make_before_break_has_no_gap() -> None:
    rows = [event_row(T, "orchestrator", {"t": 105.0, "kind": "fault", "type": "handover"})]
    rows += media("answerer", "offerer", 1, range(0))
    rows += media("offerer", "answerer", 2, range(0))
    m = trial_metrics(events_frame(rows))
    assert m.recovered and m.media_gap_ms == pytest.approx(20.0)
    assert m.units_lost == 0 and m.freezes == 0
    assert np.isnan(m.detection_ms) and m.restarts == 0


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


def test_metrics_table_one_row_per_trial() -> None:
    rows = blackhole_trial()
    other = [dict(r, trial_id="trial-2") for r in rows]
    table = metrics_table(events_frame(rows + other))
    assert list(table["trial_id"]) == [T, "trial-2"]
    assert table["media_gap_ms"].tolist() == pytest.approx([3220.0, 3220.0])


def test_a_late_cut_over_of_the_other_side_is_not_the_new_pair() -> None:
    # the answerer reports its pair at 108.5, after media came back at both receivers (108.005,
    # 108.205); the direction that resumed last is offerer -> answerer, its sender cut over at 107.15
    m = trial_metrics(events_frame(blackhole_trial(answerer_cut_over=108.5)))
    assert m.t_new_pair == pytest.approx(107.15)
    assert m.checks_ms == pytest.approx(50.0)
    assert m.first_media_ms == pytest.approx(1055.0)
    assert [d.t_sender_cut_over for d in m.directions] == pytest.approx([108.5, 107.15])
    phases = (m.detection_ms, m.decision_ms, m.signaling_ms, m.checks_ms, m.first_media_ms)
    assert min(phases) >= 0 and sum(phases) == pytest.approx(m.recovery_ms)


def test_new_pair_is_the_sender_cut_over_of_the_direction_that_resumed_last() -> None:
    # now the answerer -> offerer direction resumes last (k=420: 108.405); its sender is the answerer
    rows = [r for r in blackhole_trial(answerer_cut_over=107.3) if r["kind"] not in ("media_tx", "media_rx")]
    rows += media("answerer", "offerer", 1111, range(250, 420))
    rows += media("offerer", "answerer", 2222, range(250, 400))
    m = trial_metrics(events_frame(rows))
    assert m.t_media_resumed == pytest.approx(108.405)
    assert m.t_new_pair == pytest.approx(107.3)
    assert m.restart_ms == pytest.approx(290.0)
    assert m.checks_ms == pytest.approx(200.0)
    assert m.first_media_ms == pytest.approx(1105.0)
    phases = (m.detection_ms, m.decision_ms, m.signaling_ms, m.checks_ms, m.first_media_ms)
    assert sum(phases) == pytest.approx(m.recovery_ms) == pytest.approx(3406.0)


def test_media_back_on_the_old_path_before_the_new_pair_has_no_first_media_phase() -> None:
    # the outage ended by itself: media resumed at 108.005 / 108.205, the restart's answer came at
    # 108.3 and the peers cut over at 108.35 / 108.4, after the recovery
    rows = [r for r in blackhole_trial() if r["kind"] not in ("answer_received", "selected_pair")]
    rows += [event_row(T, "offerer", {"t": 108.3, "kind": "answer_received"}),
             event_row(T, "offerer", {"t": 108.35, "kind": "selected_pair", "local_type": "srflx"}),
             event_row(T, "answerer", {"t": 108.4, "kind": "selected_pair", "local_type": "srflx"})]
    m = trial_metrics(events_frame(rows))
    assert m.recovered and m.t_media_resumed == pytest.approx(108.205)
    assert m.t_new_pair == pytest.approx(108.35)  # the offerer's: media resumed last at the answerer
    assert np.isnan(m.first_media_ms)  # not negative: the new pair carried none of the recovery
    assert m.restart_ms == pytest.approx(1340.0) and m.checks_ms == pytest.approx(50.0)


def test_new_pair_without_recovery_needs_both_cut_overs() -> None:
    rows = [r for r in blackhole_trial() if r["kind"] not in ("media_tx", "media_rx")]
    rows += media("answerer", "offerer", 1, range(250, 500))  # never resumes
    rows += media("offerer", "answerer", 2, range(250, 400))
    m = trial_metrics(events_frame(rows))
    assert not m.recovered
    assert m.t_new_pair == pytest.approx(107.155)  # the later of the two cut-overs
    assert np.isnan(m.first_media_ms)
    one_side = [r for r in rows if not (r["kind"] == "selected_pair" and r["peer"] == "answerer")]
    assert np.isnan(trial_metrics(events_frame(one_side)).t_new_pair)
