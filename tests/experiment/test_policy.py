"""Restart policies: which states and network events restart, when, and only once at a time."""

from __future__ import annotations

import asyncio

from lab.experiment.spec import PolicySpec
from lab.runtime.agent.policy import RestartPolicy


class Recorder:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def __call__(self, reason: str) -> None:
        self.reasons.append(reason)


def policy(preset: str, active: bool = True, **overrides: object) -> tuple[RestartPolicy, Recorder]:
    recorder = Recorder()
    return RestartPolicy(PolicySpec.model_validate({"preset": preset, **overrides}), active, recorder), recorder


async def settle(seconds: float = 0.02) -> None:
    await asyncio.sleep(seconds)


async def test_nothing_before_the_first_connection() -> None:
    p, r = policy("on-disconnected")
    p.on_state("checking")
    p.on_state("disconnected")
    p.on_state("failed")
    await settle()
    assert r.reasons == []


async def test_on_disconnected_restarts_once_then_again_on_retry() -> None:
    p, r = policy("on-disconnected", retry_s=0.05)
    p.on_state("connected")
    p.on_state("disconnected")
    p.on_state("failed")  # a restart is under way: no second one
    await settle()
    assert r.reasons == ["disconnected"]
    await settle(0.08)  # still not connected after retry_s
    assert r.reasons == ["disconnected", "retry"]
    p.on_state("connected")
    await settle(0.08)
    assert r.reasons == ["disconnected", "retry"]
    await p.close()


async def test_grace_is_cancelled_when_the_path_comes_back() -> None:
    p, r = policy("on-disconnected", grace_s=0.05)
    p.on_state("connected")
    p.on_state("disconnected")
    await settle(0.01)
    p.on_state("connected")
    await settle(0.08)
    assert r.reasons == []
    p.on_state("disconnected")
    await settle(0.08)
    assert r.reasons == ["disconnected"]
    await p.close()


async def test_on_failed_ignores_disconnected_and_none_never_restarts() -> None:
    p, r = policy("on-failed")
    p.on_state("connected")
    p.on_state("disconnected")
    await settle()
    assert r.reasons == []
    p.on_state("failed")
    await settle()
    assert r.reasons == ["failed"]
    await p.close()
    quiet, r2 = policy("none")
    quiet.on_state("connected")
    quiet.on_state("failed")
    quiet.on_network_change()
    await settle()
    assert r2.reasons == [] and not quiet.active


async def test_network_change_burst_restarts_once_and_inactive_side_never() -> None:
    p, r = policy("on-network-change", network_settle_s=0.03)
    p.on_state("connected")
    for _ in range(5):
        p.on_network_change()
    await settle(0.06)
    assert r.reasons == ["network-change"]
    await p.close()
    other, r2 = policy("on-network-change", active=False)
    other.on_state("connected")
    other.on_network_change()
    other.on_state("failed")
    await settle(0.06)
    assert r2.reasons == []
