"""The handover variants on a real phone_handover network: what the phone has before the call,
and after the break. (No peers: the kernel state is what is checked.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from lab.experiment.faults import make_fault
from lab.experiment.spec import parse_experiment
from lab.net import Network, load_topology
from tests.net.conftest import network  # noqa: F401  (the fixture: networks taken down after the test)

TOPOLOGY = Path(__file__).resolve().parents[2] / "topologies" / "phone_handover.toml"


class Context:
    def __init__(self, net: Network) -> None:
        self.net = net
        self.relays: dict[str, Any] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []

    def record(self, kind: str, **fields: Any) -> None:
        self.events.append((kind, fields))

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)


def addresses(net: Network, iface: str) -> list[str]:
    out = net.run("phone", ["ip", "-4", "-o", "addr", "show", "dev", iface], capture_output=True, text=True).stdout
    return [line.split()[3].split("/")[0] for line in out.splitlines()]


def route_dev(net: Network) -> str | None:
    out = net.run("phone", ["ip", "-4", "route", "get", "198.51.100.2"], capture_output=True, text=True).stdout
    return out.split(" dev ")[1].split()[0] if " dev " in out else None


def handover(**fault: Any) -> Any:
    spec = parse_experiment({"name": "h", "topology": str(TOPOLOGY), "policies": ["none"],
                             "peers": {"offerer": "phone", "answerer": "peer"},
                             "fault": {"type": "handover", "host": "phone", **fault}})
    return make_fault(spec.fault)


@pytest.mark.parametrize("fault, lte_before", [
    ({}, True), ({"variant": "cold"}, False), ({"gap_s": 0.2}, False), ({"overlap_s": 0.2}, False),
], ids=["standby", "cold", "gap", "overlap"])
async def test_variant_before_the_call_and_after_the_break(network, fault: dict[str, Any],  # noqa: F811
                                                           lte_before: bool) -> None:
    net = network(load_topology(TOPOLOGY))
    lte, wifi = net.address("phone", "wwan0"), net.address("phone", "wlan0")
    ctx = Context(net)
    handover_fault = handover(**fault)
    await handover_fault.prepare(ctx)
    assert (addresses(net, "wwan0") == [lte]) is lte_before
    assert addresses(net, "wlan0") == [wifi] and route_dev(net) == "wlan0"
    await handover_fault.inject(ctx)
    assert addresses(net, "wlan0") == [] and addresses(net, "wwan0") == [lte] and route_dev(net) == "wwan0"
    kinds = [kind for kind, _ in ctx.events]
    assert kinds.count("fault") == 1
    brk = dict(ctx.events)["fault"]
    assert brk["t"] == handover_fault.t_break and brk["call_ms"] >= 0 and brk["cleanup_ms"] >= 0
    steps = [fields for kind, fields in ctx.events if kind == "fault_step"]
    if "overlap_s" in fault:  # make, then the break overlap_s later
        assert kinds == ["fault_step", "fault"] and brk["t"] - steps[0]["t"] >= 0.2
    else:  # the break, then the target / route step (after the gap)
        assert kinds == ["fault", "fault_step"]
        if "gap_s" in fault:
            assert steps[0]["t"] - brk["t"] >= 0.2


async def test_standby_lte_keeps_a_default_route_through_the_break(network) -> None:  # noqa: F811
    """LTE's default route never leaves, not even for an instant (as on a real phone): the
    lab once removed every route and installed them again, and a TCP handshake or an ICE check
    sent across LTE in that window was lost. Read from the kernel's own route notifications."""
    import subprocess
    import time

    net = network(load_topology(TOPOLOGY))
    gateway = net.iface("phone", "wwan0").gateway
    ctx = Context(net)
    handover_fault = handover()
    await handover_fault.prepare(ctx)
    monitor = net.popen("phone", ["ip", "-4", "monitor", "route"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)  # listening
        await handover_fault.inject(ctx)
        time.sleep(0.5)
    finally:
        monitor.terminate()
        out, _ = monitor.communicate(timeout=10)
    lte_defaults = {"200"}  # metric 200 before the call (prepare)
    changes = 0
    for line in out.splitlines():
        words = line.split()
        deleted = words[:1] == ["Deleted"]
        words = words[1:] if deleted else words
        if words[:3] != ["default", "via", gateway] or "metric" not in words:
            continue
        metric = words[words.index("metric") + 1]
        changes += 1
        if deleted:
            lte_defaults.discard(metric)
            assert lte_defaults, f"the phone had no default route via LTE after: {line}\n{out}"
        else:
            lte_defaults.add(metric)
    assert changes, out  # the default route did move (metric 1 for the preferred LTE)
