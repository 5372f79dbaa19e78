"""When the orchestrator stops watching a trial (lab.experiment.observe)."""

from __future__ import annotations

import time

from lab.experiment.observe import Observer


def test_steady_media_after_the_fault_is_recovered() -> None:
    obs = Observer(("offerer", "answerer"))
    for k in range(60):  # 1.2 s of units every 20 ms at both receivers, from t = 10
        for role in ("offerer", "answerer"):
            obs.on_event(role, "media_rx", {"t": 10.0 + 0.02 * k})
    assert obs.flowing(5)
    assert obs.recovered(now=11.19, t_fault_end=9.0, observe_s=1.0, settle_s=1.0)
    assert not obs.recovered(now=11.19, t_fault_end=10.5, observe_s=1.0, settle_s=1.0)  # observe_s not over
    assert not obs.recovered(now=11.6, t_fault_end=9.0, observe_s=1.0, settle_s=1.0)  # silent for 400 ms
    # a restart still under way at one peer: keep watching until its new pair
    obs.on_event("offerer", "restart", {"t": 11.0})
    obs.on_event("offerer", "selected_pair", {"t": 11.1})
    assert not obs.recovered(now=11.19, t_fault_end=9.0, observe_s=1.0, settle_s=1.0)
    obs.on_event("answerer", "selected_pair", {"t": 11.15})
    assert obs.recovered(now=11.19, t_fault_end=9.0, observe_s=1.0, settle_s=1.0)


async def test_failed_peers_are_watched_to_the_end_of_the_window() -> None:
    obs = Observer(("offerer", "answerer"))
    for role in ("offerer", "answerer"):
        obs.on_event(role, "connection_state", {"t": 1.0, "state": "failed"})
    start = time.monotonic()
    await obs.watch(lambda: start, recover_s=0.1, observe_s=0.0, settle_s=1.0, check=lambda: None)
    assert obs.stopped_because == "window over (0.1 s after the fault ended)"


async def test_closed_peers_end_the_observation() -> None:
    obs = Observer(("offerer", "answerer"))
    for role in ("offerer", "answerer"):
        obs.on_event(role, "connection_state", {"t": 1.0, "state": "closed"})
    await obs.watch(lambda: time.monotonic(), recover_s=60.0, observe_s=0.0, settle_s=1.0, check=lambda: None)
    assert obs.stopped_because == "every peer connection closed"


def test_the_metrics_rule_decides_when_a_fault_is_given() -> None:
    # 50 units/s before the fault at t = 2; after a 2 s outage only every other unit comes back:
    # no gap > 200 ms (the quick check passes) but 25 units/s is not 90 % of 50
    obs = Observer(("offerer",))
    times = [0.02 * k for k in range(100)] + [4.0 + 0.04 * k for k in range(40)]
    for t in times:
        obs.on_event("offerer", "media_rx", {"t": t})
    now = times[-1] + 0.01
    assert obs.recovered(now, t_fault_end=2.0, observe_s=0.0, settle_s=1.0)  # without the fault: quick rule only
    assert not obs.recovered(now, t_fault_end=2.0, observe_s=0.0, settle_s=1.0, t_fault=2.0)
    for k in range(60):  # full rate again
        obs.on_event("offerer", "media_rx", {"t": now + 0.02 * k})
    assert obs.recovered(now + 1.2, t_fault_end=2.0, observe_s=0.0, settle_s=1.0, t_fault=2.0)


async def test_a_full_reconnect_closing_its_old_connection_is_not_the_end() -> None:
    obs = Observer(("offerer", "answerer"))
    for role in ("offerer", "answerer"):
        obs.on_event(role, "pc_replaced", {"t": 1.0, "gen": 1})
        obs.on_event(role, "connection_state", {"t": 1.1, "state": "closed", "gen": 0})  # the old one
    assert not obs.closed()
    for role in ("offerer", "answerer"):
        obs.on_event(role, "connection_state", {"t": 2.0, "state": "closed", "gen": 1})
    assert obs.closed()
