"""What lab.analysis reads from the orchestrator's output still exists there (a rename in
lab.experiment would otherwise show up only as empty figures)."""

from __future__ import annotations

from pathlib import Path

from lab.analysis.load import REQUIRED_TRIAL_COLUMNS, load_runs
from lab.analysis.plots import MARKERS
from lab.analysis.summary import CONDITION, GAP, MILESTONES
from lab.experiment.events import COLUMNS, KINDS
from lab.experiment.metrics import TrialMetrics


def test_metrics_fields_used_by_the_analysis_exist() -> None:
    row = TrialMetrics().row()
    needed = set(MILESTONES) | {"t_fault", "t_media_resumed", "recovery_ms", GAP, "recovered", "units_lost",
                                "freezes", "restarts", "failure_reason"}
    assert needed <= set(row), needed - set(row)


def test_event_kinds_drawn_in_the_timeline_exist() -> None:
    used = set(MARKERS) | {"fault", "fault_end", "fault_step", "trial_end", "ice_state", "connection_state",
                           "media_rx"}
    assert used <= set(KINDS), used - set(KINDS)
    assert {"trial_id", "peer", "t_monotonic", "kind", "state", "detail"} <= set(COLUMNS)


def test_sample_run_has_every_column_the_analysis_groups_by(sample_run: Path) -> None:
    trials = load_runs([sample_run]).trials
    # "path" came with the SFU (lab.experiment.sfu); runs made before it are read as "p2p" (DEFAULTS)
    assert set(REQUIRED_TRIAL_COLUMNS) | (set(CONDITION) - {"path"}) | {"index", "repetition", "trigger", "status"} <= \
        set(trials.columns)
