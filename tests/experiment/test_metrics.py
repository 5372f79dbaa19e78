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


def blackhole_trial() -> list[dict]:
    rows = [
        event_row(T, "orchestrator", {"t": 104.999, "kind": "fault", "type": "blackhole"}),
        event_row(T, "offerer", {"t": 106.0, "kind": "ice_state", "state": "checking"}),  # noise
        event_row(T, "offerer", {"t": 107.0, "kind": "ice_state", "state": "disconnected"}),
        event_row(T, "answerer", {"t": 107.3, "kind": "connection_state", "state": "disconnected"}),
        event_row(T, "offerer", {"t": 107.01, "kind": "restart", "action": "restart-ice", "reason": "disconnected"}),
        event_row(T, "offerer", {"t": 107.02, "kind": "offer_sent", "ice_ufrag": "abcd"}),
        event_row(T, "offerer", {"t": 107.1, "kind": "answer_received"}),
        event_row(T, "offerer", {"t": 107.15, "kind": "selected_pair", "local_type": "srflx"}),
        event_row(T, "answerer", {"t": 107.155, "kind": "selected_pair", "local_type": "srflx"}),
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
    # the call has its new path once both peers switched: max(107.15, 107.155)
    assert m.restart_ms == pytest.approx(145.0)
    assert m.signaling_ms == pytest.approx(90.0)
    assert m.checks_ms == pytest.approx(55.0)
    # last unit before the fault: k=249 received at 104.985; resumed at k=400 (108.005) / k=410 (108.205)
    assert m.media_gap_ms_at_offerer == pytest.approx(3020.0)
    assert m.media_gap_ms_at_answerer == pytest.approx(3220.0)
    assert m.media_gap_ms == pytest.approx(3220.0)
    assert m.t_media_resumed == pytest.approx(108.205)
    assert m.first_media_ms == pytest.approx(1050.0)
    assert m.recovery_ms == pytest.approx(3206.0)
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
