"""Restart policies: which states and network events restart, when, and only once at a time.

Timers are long where a test checks that nothing happened, and positive outcomes are polled
for, so a loaded machine does not make these flaky.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lab.experiment.spec import PolicySpec
from lab.runtime.agent.policy import RestartPolicy

LONG = 5.0  # a timer that must not fire during a test


class Recorder:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def __call__(self, reason: str) -> None:
        self.reasons.append(reason)


def policy(preset: str, active: bool = True, **overrides: object) -> tuple[RestartPolicy, Recorder]:
    recorder = Recorder()
    spec = PolicySpec.model_validate({"preset": preset, "retry_s": LONG, **overrides})
    return RestartPolicy(spec, active, recorder), recorder


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_nothing_before_the_first_connection() -> None:
    p, r = policy("on-disconnected")
    p.on_state("checking")
    p.on_state("disconnected")
    p.on_state("failed")
    await asyncio.sleep(0.05)
    assert r.reasons == []


async def test_on_disconnected_restarts_once_then_again_on_retry() -> None:
    p, r = policy("on-disconnected", retry_s=0.2)
    p.on_state("connected")
    p.on_state("disconnected")
    p.on_state("failed")  # a restart is under way: no second one
    await until(lambda: len(r.reasons) >= 1)
    assert r.reasons == ["disconnected"]
    await until(lambda: len(r.reasons) >= 2)  # still not connected after retry_s
    assert r.reasons == ["disconnected", "retry"]
    p.on_state("connected")
    count = len(r.reasons)
    await asyncio.sleep(0.3)
    assert len(r.reasons) == count
    await p.close()


async def test_grace_is_cancelled_when_the_path_comes_back() -> None:
    p, r = policy("on-disconnected", grace_s=0.3)
    p.on_state("connected")
    p.on_state("disconnected")
    p.on_state("connected")  # back before the grace ran out
    await asyncio.sleep(0.5)
    assert r.reasons == []
    p.on_state("disconnected")
    await until(lambda: r.reasons == ["disconnected"])
    await p.close()


async def test_on_failed_ignores_disconnected_and_none_never_restarts() -> None:
    p, r = policy("on-failed")
    p.on_state("connected")
    p.on_state("disconnected")
    await asyncio.sleep(0.05)
    assert r.reasons == []
    p.on_state("failed")
    await until(lambda: r.reasons == ["failed"])
    await p.close()
    quiet, r2 = policy("none")
    quiet.on_state("connected")
    quiet.on_state("failed")
    quiet.on_network_change()
    await asyncio.sleep(0.05)
    assert r2.reasons == [] and not quiet.active


async def test_network_change_burst_restarts_once_and_inactive_side_never() -> None:
    p, r = policy("on-network-change", network_settle_s=0.05)
    p.on_state("connected")
    for _ in range(5):
        p.on_network_change()
    await until(lambda: r.reasons == ["network-change"])
    await asyncio.sleep(0.1)
    assert r.reasons == ["network-change"]
    await p.close()
    other, r2 = policy("on-network-change", active=False, network_settle_s=0.01)
    other.on_state("connected")
    other.on_network_change()
    other.on_state("failed")
    await asyncio.sleep(0.1)
    assert r2.reasons == []


async def test_a_make_before_break_restart_completes_on_its_new_pair() -> None:
    p, r = policy("on-network-change", network_settle_s=0.01)
    p.on_state("connected")
    p.on_network_change()
    await until(lambda: r.reasons == ["network-change"])
    p.on_network_change()  # still restarting: ignored
    await asyncio.sleep(0.1)
    assert r.reasons == ["network-change"]
    p.on_new_pair()  # the new generation took over without leaving 'connected'
    p.on_network_change()
    await until(lambda: r.reasons == ["network-change", "network-change"])
    await p.close()


async def test_a_settled_network_event_restarts_without_the_settle_wait() -> None:
    """A standby handover: the new default route and its address were in place at the event,
    so nothing is left to settle (a long network_settle_s shows no wait was taken)."""
    p, r = policy("on-network-change", network_settle_s=LONG)
    p.on_state("connected")
    p.on_network_change(settled=True)
    await until(lambda: r.reasons == ["network-change"], timeout=LONG / 2)
    p.on_network_change(settled=True)  # the same burst: one restart
    await asyncio.sleep(0.1)
    assert r.reasons == ["network-change"]
    await p.close()


async def test_an_unsettled_event_waits_until_a_later_one_finds_the_route() -> None:
    """Cold/gap: the route is still coming up at the first event: wait (here: longer than the
    test), and restart as soon as an event of the burst finds the new route in place."""
    p, r = policy("on-network-change", network_settle_s=LONG)
    p.on_state("connected")
    p.on_network_change(settled=False)
    p.on_network_change(settled=False)
    await asyncio.sleep(0.2)
    assert r.reasons == []
    p.on_network_change(settled=True)
    await until(lambda: r.reasons == ["network-change"], timeout=LONG / 2)
    await asyncio.sleep(0.1)
    assert r.reasons == ["network-change"]  # the cancelled wait fires nothing
    await p.close()
