"""browser_state: warm browsers see their uplinks go down and up before the call; fresh ones see
nothing; trials without a browser record "n/a". (The network is real; the browsers are not
needed for what is checked here: which change the lab makes, and that it leaves the host as it was.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lab.experiment import browser_state
from lab.experiment.spec import parse_experiment
from lab.net import load_topology
from tests.net.conftest import network  # noqa: F401  (the fixture: networks taken down after the test)

TOPOLOGY = Path(__file__).resolve().parents[2] / "topologies" / "phone_handover.toml"


def spec_of(**peers: Any) -> Any:
    return parse_experiment({"name": "b", "topology": str(TOPOLOGY), "policies": ["none"],
                             "peers": {"offerer": "phone", "answerer": "peer", **peers},
                             "fault": {"type": "handover", "host": "phone"}})


class Context:
    def __init__(self, spec: Any, net: Any) -> None:
        self.spec, self.net = spec, net
        self.events: list[tuple[str, dict[str, Any]]] = []

    def record(self, kind: str, **fields: Any) -> None:
        self.events.append((kind, fields))

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)


def test_state_is_warm_by_default_and_recorded_only_with_a_browser() -> None:
    assert spec_of().peers.browser_state == "warm"
    assert browser_state.browser_state_of(spec_of()) == "n/a"
    assert browser_state.browser_state_of(spec_of(offerer_kind="chromium")) == "warm"
    assert browser_state.browser_state_of(spec_of(kind="chromium", browser_state="fresh")) == "fresh"
    assert browser_state.browser_hosts(spec_of(answerer_kind="chromium")) == ["peer"]


async def test_warm_toggles_the_browser_hosts_uplinks_and_restores_them(network, monkeypatch) -> None:
    monkeypatch.setattr(browser_state, "WARM_SETTLE_S", 0.0)
    net = network(load_topology(TOPOLOGY))
    before = net.describe()["nodes"]["phone"]
    net.impair.link_down("phone", "wwan0")  # a cold handover's preparation: only up uplinks are toggled
    ctx = Context(spec_of(offerer_kind="chromium"), net)
    await browser_state.warm_browsers(ctx)
    assert ctx.events == [("browser_warmup", {"host": "phone", "ifaces": ["wlan0"], "settle_s": 0.0})]
    shown = net.run("phone", ["ip", "-4", "-o", "addr", "show", "dev", "wlan0"], capture_output=True, text=True)
    assert before["interfaces"]["wlan0"]["addresses"][0] in shown.stdout
    route = net.run("phone", ["ip", "-4", "route", "get", "198.51.100.2"], capture_output=True, text=True)
    assert " dev wlan0 " in route.stdout
    for spec in (spec_of(offerer_kind="chromium", browser_state="fresh"), spec_of()):
        ctx = Context(spec, net)
        await browser_state.warm_browsers(ctx)
        assert ctx.events == []
