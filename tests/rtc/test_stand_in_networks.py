"""Which of a host's networks a stand-in gathers on, best first (EngineProfile.networks): on the
phone of topologies/phone_handover.toml (wlan0 preferred by its route metric, wwan0 on standby),
and on a phone whose names Chromium ranks the other way."""

from __future__ import annotations

import json
import sys

from lab.net import Network, Topology
from lab.rtc.profiles import profile
from tests.net.conftest import network  # noqa: F401  (fixture: networks taken down after the test)

PROBE = ("import json; from lab.runtime.agent.interfaces import ranked_ipv4_addresses as r, usable_ipv4_interfaces as u;"
         " n = u(); print(json.dumps({k: [n[a] for a in r(k)] for k in ('all', 'adapter-type', 'default-route')}))")


def ranked(net: Network, host: str) -> dict[str, list[str]]:
    done = net.run(host, [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_chrome_ranks_by_adapter_type_and_firefox_takes_the_default_route(network) -> None:  # noqa: F811
    assert profile("chrome").networks == "adapter-type" and profile("firefox").networks == "default-route"
    net = network("phone_handover.toml")
    seen = ranked(net, "phone")
    assert sorted(seen["all"]) == ["wlan0", "wwan0"]
    assert seen["adapter-type"] == ["wlan0", "wwan0"]     # Chromium: veths are Ethernet, then the name
    assert seen["default-route"] == ["wlan0"]           # Firefox without a media permission
    net.impair.set_default_route("phone", "wwan0")
    assert ranked(net, "phone")["default-route"] == ["wwan0"]
    net.impair.set_default_route("phone", None)
    net.impair.link_down("phone", "wlan0")               # the default route's interface went
    after = ranked(net, "phone")
    assert after["default-route"] == after["adapter-type"] == ["wwan0"]


def test_chrome_ranks_veths_by_name_not_by_a_wifi_like_name(network) -> None:  # noqa: F811
    # measured with Chromium on these names: it sent on "lte" (the kernel calls both veths
    # Ethernet, so libwebrtc never guesses "wlan0" to be Wi-Fi)
    topo = Topology("names")
    topo.add_wan("internet")
    topo.add_router("nat_wifi", lan="192.168.1.0/24")
    topo.add_router("nat_lte", lan="100.72.0.0/24")
    topo.add_host("phone")
    topo.link("nat_wifi", "internet", address="198.51.100.10")
    topo.link("nat_lte", "internet", address="198.51.100.30")
    topo.link("phone", "nat_wifi", iface="wlan0", metric=100)
    topo.link("phone", "nat_lte", iface="lte", metric=200)
    net = network(topo)
    assert ranked(net, "phone")["adapter-type"] == ["lte", "wlan0"]


def test_a_stand_in_watches_interfaces_only_when_its_engine_notices_their_loss() -> None:
    from lab.contract import AgentConfig
    from lab.contract import Policy as PolicySpec
    from lab.runtime.agent.rtc import profile_watches_interfaces

    def config(rtc_profile: str | None) -> AgentConfig:
        return AgentConfig(trial_id="w", role="offerer", host="phone", polite=False, restarts=True,
                           policy=PolicySpec.model_validate("on-disconnected"), rtc_profile=rtc_profile)  # type: ignore[arg-type]

    assert profile_watches_interfaces(config("firefox"))      # Firefox's sockets error at once
    assert not profile_watches_interfaces(config("chrome"))   # Chromium waits for its pings
    assert not profile_watches_interfaces(config(None))
