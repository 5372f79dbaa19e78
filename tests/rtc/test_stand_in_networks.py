"""Which of a host's networks a stand-in gathers on, best first (EngineProfile.networks): on the
phone of topologies/phone_handover.toml (wifi preferred by its route metric, lte on standby)."""

from __future__ import annotations

import json
import sys

from lab.net import Network
from lab.rtc.profiles import profile
from tests.net.conftest import network  # noqa: F401  (fixture: networks taken down after the test)

PROBE = ("import json; from lab.runtime.agent.interfaces import ranked_ipv4_addresses as r, usable_ipv4_interfaces as u;"
         " n = u(); print(json.dumps({k: [n[a] for a in r(k)] for k in ('all', 'by-name', 'default-route')}))")


def ranked(net: Network, host: str) -> dict[str, list[str]]:
    done = net.run(host, [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_chrome_ranks_by_name_and_firefox_takes_the_default_route(network) -> None:  # noqa: F811
    assert profile("chrome").networks == "by-name" and profile("firefox").networks == "default-route"
    net = network("phone_handover.toml")
    seen = ranked(net, "phone")
    assert sorted(seen["all"]) == ["lte", "wifi"]
    assert seen["by-name"] == ["lte", "wifi"]          # libwebrtc: same adapter type, then the name
    assert seen["default-route"] == ["wifi"]           # Firefox without a media permission
    net.impair.set_default_route("phone", "lte")
    assert ranked(net, "phone")["default-route"] == ["lte"]
    net.impair.set_default_route("phone", None)
    net.impair.link_down("phone", "wifi")               # the default route's interface went
    after = ranked(net, "phone")
    assert after["default-route"] == after["by-name"] == ["lte"]
