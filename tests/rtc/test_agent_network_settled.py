"""Whether a network event leaves the host's default route in place (`settled`, which lets an
on-network-change policy restart without its settle wait): the rule on kernel-shaped input,
then the agent's watcher on a real phone namespace through standby and gap handovers."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from lab.net import load_topology, netns
from lab.runtime.agent.netwatch import NetworkWatcher, default_route_settled
from tests.experiment.test_handover_network import Context, handover
from tests.net.conftest import network  # noqa: F401  (the fixture: networks taken down after the test)

TOPOLOGY = Path(__file__).resolve().parents[2] / "topologies" / "phone_handover.toml"
WIFI, LTE = 2, 3


def test_a_loss_is_settled_when_a_usable_default_route_is_left() -> None:
    down = {"event": "RTM_NEWLINK", "ifindex": WIFI, "operstate": "DOWN"}
    # standby: LTE up, addressed and routed (worse metric); Wi-Fi's route may linger, unusable
    assert default_route_settled(down, {LTE}, [(0, WIFI), (200, LTE)])
    gone = {"event": "RTM_DELADDR", "ifindex": WIFI}
    assert default_route_settled(gone, {LTE}, [(200, LTE)])
    # cold/gap: nothing usable is left
    assert not default_route_settled(down, set(), [(0, WIFI)])
    assert not default_route_settled(gone, {LTE}, [])  # LTE addressed, its route not yet there


def test_a_gain_is_settled_only_once_the_best_route_leaves_from_it() -> None:
    up = {"event": "RTM_NEWLINK", "ifindex": LTE, "operstate": "UP"}
    # overlap's make: LTE's link is up, Wi-Fi still carries the default route
    assert not default_route_settled(up, {WIFI}, [(0, WIFI)])
    assert not default_route_settled(up, {WIFI, LTE}, [(0, WIFI), (200, LTE)])
    route = {"event": "RTM_NEWROUTE", "ifindex": LTE, "default_route": True}
    assert default_route_settled(route, {WIFI, LTE}, [(0, LTE), (100, WIFI)])
    assert not default_route_settled(route, {WIFI}, [(0, LTE), (100, WIFI)])  # LTE has no address


def test_a_link_coming_up_is_no_loss() -> None:
    """Bringing LTE's link up, the kernel first reports it with operstate DOWN (no carrier yet):
    LTE was not in use, nothing was lost, and LTE has no address or route yet: not settled (the
    overlap's make restarted at once on it, before LTE was addressed). Wi-Fi's own link going
    down while it was in use stays a settled loss when LTE's route is left."""
    lte_down = {"event": "RTM_NEWLINK", "ifindex": LTE, "operstate": "DOWN"}
    assert not default_route_settled(lte_down, {WIFI}, [(0, WIFI)], usable_before={WIFI})
    wifi_down = {"event": "RTM_NEWLINK", "ifindex": WIFI, "operstate": "DOWN"}
    assert default_route_settled(wifi_down, {LTE}, [(200, LTE)], usable_before={WIFI, LTE})


async def watched_handover(network: Any, **fault: Any) -> list[dict[str, Any]]:  # noqa: F811
    net = network(load_topology(TOPOLOGY))
    ctx = Context(net)
    handover_fault = handover(**fault)
    await handover_fault.prepare(ctx)
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    watcher = NetworkWatcher(loop, seen.append)

    def start_in_phone() -> None:  # the watcher's thread inherits this thread's namespace
        with netns.entered(net.netns("phone")):
            watcher.start()

    thread = threading.Thread(target=start_in_phone)
    thread.start()
    await asyncio.to_thread(thread.join)
    try:
        await asyncio.sleep(0.3)
        del seen[:]  # only what the fault does
        await handover_fault.inject(ctx)
        await asyncio.sleep(0.5)
    finally:
        watcher.stop()
    assert seen, "no network event seen in the phone's namespace"
    return seen


async def test_standby_handover_is_settled_at_its_first_event(network) -> None:  # noqa: F811
    seen = await watched_handover(network)
    assert seen[0]["settled"] is True, seen
    # one network change (Wi-Fi gone, LTE's route best): the rest of the burst (address, routes
    # moved) changes nothing more, so a policy restarts once (a Janus leg restarted twice: its
    # first restart was over before the route event)
    assert [e["changed"] for e in seen] == [True] + [False] * (len(seen) - 1), seen


async def test_gap_handover_settles_only_when_lte_is_routed(network) -> None:  # noqa: F811
    seen = await watched_handover(network, gap_s=0.5)
    assert seen[0]["settled"] is False, seen
    assert any(e["settled"] for e in seen), seen
    routed = next(i for i, e in enumerate(seen) if e["settled"])
    assert all(not e["settled"] for e in seen[:routed])


async def test_overlap_make_is_not_settled_before_lte_is_routed(network) -> None:  # noqa: F811
    seen = await watched_handover(network, variant="overlap", overlap_s=0.3)
    make = seen[: next(i for i, e in enumerate(seen) if e.get("ifindex") == WIFI and e["event"] == "RTM_NEWLINK"
                       and e.get("operstate") == "DOWN")]
    first_settled = next((e for e in make if e["settled"]), None)
    assert first_settled is not None and first_settled["event"] != "RTM_NEWLINK", make
