"""Faults map onto lab.net / lab.turn calls in the right order, stamped as events.

The network here is a recording stand-in (the real calls are exercised by the end-to-end test
and the lab.net tests); what is checked is the fault's own sequencing and its events.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import pytest

from lab.contract import SignalingOutage
from lab.errors import ConfigError
from lab.experiment.faults import make_fault
from lab.experiment.spec import parse_experiment


class RecordingImpair:
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self._log.append((name, *args, *sorted(kwargs.items())))


class StandInNet:
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.impair = RecordingImpair(log)

    def node(self, name: str) -> str:
        if name not in ("phone", "nat_a"):
            raise KeyError(f"no node {name}")
        return name

    def iface(self, node: str, iface: str) -> str:
        return iface


class Context:
    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.fields: list[dict[str, Any]] = []
        self.net = StandInNet(self.log)
        self.relays: dict[str, Any] = {}
        self.commands: list[Any] = []

    def record(self, kind: str, **fields: Any) -> None:
        self.log.append(("event", kind))
        self.fields.append(fields)

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    def broadcast(self, command: dict[str, Any]) -> None:
        self.commands.append(command)

    def link_shaping(self, node: str, iface: str) -> dict[str, float]:
        return {}


def fault_of(**fault: Any) -> Any:
    spec = parse_experiment({"name": "f", "topology": "x.toml", "peers": {"offerer": "a", "answerer": "b"},
                             "policies": ["none"], "fault": fault}, check_topology=False)
    return make_fault(spec.fault)


async def test_handover_standby_is_the_default_target_up_before_the_break() -> None:
    ctx = Context()
    fault = fault_of(type="handover", host="phone")
    assert fault.spec.variant == "standby"
    await fault.prepare(ctx)
    assert ctx.log == [("link_up", "phone", "wwan0"), ("set_default_route", "phone", "wlan0")]
    ctx.log.clear()
    await fault.inject(ctx)
    # the break is Wi-Fi going down; `fault` is stamped when that call starts
    assert ctx.log == [("link_down", "phone", "wlan0"), ("event", "fault"),
                       ("set_default_route", "phone", "wwan0"), ("event", "fault_step")]
    assert ctx.fields[0]["t"] == fault.t_break and ctx.fields[0]["call_ms"] >= 0


async def test_the_break_is_stamped_at_the_start_of_its_kernel_call() -> None:
    """A peer may react to the break before the orchestrator sees the call return (measured: a
    stand-in said 'disconnected' 5-11 ms before it): the stamp is the earliest the break can be."""
    ctx = Context()
    entered: list[float] = []

    def slow_link_down(*args: Any) -> None:
        entered.append(time.monotonic())
        time.sleep(0.03)

    ctx.net.impair.link_down = slow_link_down  # type: ignore[attr-defined]
    fault = fault_of(type="handover", host="phone")
    await fault.inject(ctx)
    brk = ctx.fields[0]
    assert brk["t"] == fault.t_break and brk["t"] <= entered[0]
    assert brk["call_ms"] >= 30


async def test_handover_cold_gap_and_overlap() -> None:
    ctx = Context()
    cold = fault_of(type="handover", host="phone", variant="cold")
    await cold.prepare(ctx)
    assert ctx.log == [("link_down", "phone", "wwan0"), ("set_default_route", "phone", "wlan0")]
    ctx.log.clear()
    await cold.inject(ctx)
    assert ctx.log == [("link_down", "phone", "wlan0"), ("event", "fault"), ("link_up", "phone", "wwan0"),
                       ("set_default_route", "phone", "wwan0"), ("event", "fault_step")]
    ctx.log.clear()
    gap = fault_of(type="handover", host="phone", gap_s=0.01)
    assert gap.spec.variant == "gap"
    await gap.inject(ctx)
    assert ctx.log == [("link_down", "phone", "wlan0"), ("event", "fault"), ("link_up", "phone", "wwan0"),
                       ("set_default_route", "phone", "wwan0"), ("event", "fault_step")]
    ctx.log.clear()
    ctx.fields.clear()
    overlap = fault_of(type="handover", host="phone", overlap_s=0.01)
    await overlap.prepare(ctx)
    ctx.log.clear()
    await overlap.inject(ctx)
    # make first, then the break: t_fault is the break, after the overlap
    assert ctx.log == [("link_up", "phone", "wwan0"), ("set_default_route", "phone", "wwan0"), ("event", "fault_step"),
                       ("link_down", "phone", "wlan0"), ("event", "fault")]
    make, brk = ctx.fields
    assert brk["t"] == overlap.t_break and brk["t"] - make["t"] >= 0.01


@pytest.mark.parametrize("fault, reason", [
    ({"variant": "gap"}, "needs gap_s > 0"),
    ({"variant": "overlap"}, "needs overlap_s > 0"),
    ({"variant": "cold", "gap_s": 1}, "gap_s applies to variant 'gap' only"),
    ({"gap_s": 1, "overlap_s": 1}, "gap_s applies to variant 'gap' only, not 'overlap'"),
    ({"variant": "warm"}, "fault.variant"),
    ({"to_iface": "wlan0"}, "must be different"),
])
def test_handover_variant_errors_name_the_key(fault: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        fault_of(type="handover", host="phone", **fault)


async def test_blackhole_binding_expiry_and_signaling_outage() -> None:
    ctx = Context()
    await fault_of(type="blackhole", node="nat_a", iface="wan", duration_s=0.01, udp_only=True).inject(ctx)
    assert ctx.log == [("blackhole", "nat_a", "wan", ("duration", 0.01), ("udp_only", True)), ("event", "fault"),
                       ("event", "fault_end")]
    ctx.log.clear()
    await fault_of(type="binding_expiry", router="nat_a", host="alice").inject(ctx)
    assert ctx.log == [("flush_bindings", "nat_a", "alice"), ("event", "fault")]
    await fault_of(type="signaling_outage", duration_s=0.01, mode="client").inject(ctx)
    assert ctx.commands == [SignalingOutage(duration_s=0.01)]


class StandInRelay:
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.kill = lambda: log.append(("kill",))
        self.start = lambda: log.append(("start",))


async def test_turn_allocation_expiry_breaks_when_the_old_relay_dies() -> None:
    ctx = Context()
    ctx.relays["relay"] = StandInRelay(ctx.log)
    await fault_of(type="turn_allocation_expiry", relay="relay").inject(ctx)
    assert ctx.log == [("kill",), ("event", "fault"), ("start",), ("event", "fault_end")]


def test_faults_name_missing_parts() -> None:
    ctx = Context()
    with pytest.raises(ConfigError, match="fault.router"):
        fault_of(type="nat_reboot", router="nat_z").check(ctx)
    with pytest.raises(ConfigError, match="no relay on host 'relay'"):
        fault_of(type="relay_kill", relay="relay").check(ctx)


def test_a_new_fault_is_one_class_and_the_schema_accepts_it() -> None:
    from lab.errors import ConfigError as Error
    from lab.experiment.faults import FAULTS, Fault, FaultParams

    class Flap(Fault):
        class Params(FaultParams):
            type: Literal["test_flap"]
            node: str
            times: int = 2

        async def inject(self, ctx: Any) -> None:
            self._begin(ctx)

    try:
        base = {"name": "x", "topology": "t.toml", "policies": ["none"], "peers": {"offerer": "a", "answerer": "b"}}
        spec = parse_experiment({**base, "fault": {"type": "test_flap", "node": "r", "times": 3}},
                                check_topology=False)
        assert isinstance(make_fault(spec.fault), Flap) and spec.fault.times == 3  # type: ignore[attr-defined]
        assert spec.model_dump()["fault"] == {"type": "test_flap", "at_s": 5.0, "node": "r", "times": 3}
        with pytest.raises(Error) as caught:
            parse_experiment({**base, "fault": {"type": "test_flap", "node": "r", "times": "x"}}, "e.toml",
                             check_topology=False)
        assert caught.value.key == "fault.times"
        with pytest.raises(TypeError, match="already registered"):
            type("Again", (Fault,), {"Params": Flap.Params})
    finally:
        FAULTS.pop("test_flap", None)
