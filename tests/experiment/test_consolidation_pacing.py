"""Mid-run rebuilds of a run's tables are paced so that they never take more than a tenth of the
run's time (each reads every saved trial: unpaced, a large run spends days rebuilding)."""

from __future__ import annotations

from lab.experiment.runner import CONSOLIDATE_EVERY, ConsolidationPacer


def test_rebuilds_every_n_trials_while_cheap_and_backs_off_when_dear() -> None:
    now = [0.0]
    pacer = ConsolidationPacer(clock=lambda: now[0])
    assert not pacer.due(CONSOLIDATE_EVERY - 1)
    assert pacer.due(CONSOLIDATE_EVERY)
    pacer.ran(0.01)  # cheap: the next batch may rebuild again
    now[0] = 5.0
    assert pacer.due(2 * CONSOLIDATE_EVERY)
    pacer.ran(30.0)  # a rebuild of 30 s: none for the next 300 s
    now[0] = 200.0
    assert not pacer.due(3 * CONSOLIDATE_EVERY)
    now[0] = 306.0
    assert pacer.due(4 * CONSOLIDATE_EVERY)
