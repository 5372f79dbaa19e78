"""Analysis of run folders: tidy tables, statistics with confidence intervals, figures, report.

    from lab.analysis import load_runs, summary_table, compare_policies
    runs = load_runs(["runs/demo-..."])
    summary_table(runs.trials)
"""

from lab.analysis.load import Runs, load_run, load_runs, newest_run
from lab.analysis.summary import (
    PHASE_LABELS,
    PHASES,
    compare_policies,
    peer_kind_table,
    policy_order,
    recovery_phases,
    summary_table,
)

__all__ = [
    "PHASES",
    "PHASE_LABELS",
    "Runs",
    "compare_policies",
    "load_run",
    "load_runs",
    "newest_run",
    "peer_kind_table",
    "policy_order",
    "recovery_phases",
    "summary_table",
]
