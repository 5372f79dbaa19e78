"""Two agent sessions in one process (signaling relayed as the orchestrator relays it): a new
address trickled as `candidate_sent` with the agreed fields, and the continual-gathering policy
moving the call to it without an ICE restart. Loopback only; the network change is delivered
the way the netlink watcher delivers it (the watcher itself needs a namespace of its own)."""

from __future__ import annotations

import json

import pytest

from lab.contract import AgentConfig
from lab.contract import Policy as PolicySpec
from lab.runtime.agent import interfaces
from lab.runtime.agent.session import PeerSession, candidate_facts

from .peers import wait_for
from .test_agent_full_reconnect import RelayedControl

AGREED = {"ice_ufrag", "generation", "type", "address", "port", "protocol", "interface"}
RELATED = {"related_address", "related_port"}  # as the Chromium page reports them too


def agent_config(role: str) -> AgentConfig:
    return AgentConfig(
        trial_id="continual", role=role, host=role, polite=role == "answerer", restarts=True,
        policy=PolicySpec.model_validate({"preset": "continual-gathering", "retry_s": 120}),
        watch_network=False,
    )


def test_continual_gathering_is_a_preset_that_acts_on_network_changes() -> None:
    spec = PolicySpec.model_validate("continual-gathering")
    assert (spec.trigger, spec.action) == ("network-change", "continual-gathering")


def test_candidate_facts_carry_the_agreed_fields() -> None:
    host = candidate_facts(None, {"candidate": "candidate:1 1 UDP 2130706431 10.0.0.2 5000 typ host",
                                  "usernameFragment": "abcd"})
    assert set(host) == AGREED | RELATED
    assert (host["type"], host["address"], host["port"], host["protocol"]) == ("host", "10.0.0.2", 5000, "udp")
    srflx = candidate_facts(None, {"candidate": "candidate:2 1 udp 1694498815 198.51.100.7 6000 typ srflx "
                                                "raddr 10.0.0.2 rport 5000", "usernameFragment": "abcd"})
    assert srflx["type"] == "srflx" and srflx["ice_ufrag"] == "abcd"
    assert (srflx["related_address"], srflx["related_port"]) == ("10.0.0.2", 5000)
    end = candidate_facts(None, {"candidate": "", "usernameFragment": "abcd"})
    assert end["end_of_candidates"] is True and set(end) == AGREED | RELATED | {"end_of_candidates"}


async def test_a_new_address_is_trickled_and_carries_the_call_without_restart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    addresses = ["127.0.0.1"]
    monkeypatch.setattr(interfaces, "usable_ipv4_addresses", lambda: list(addresses))
    controls = {role: RelayedControl(role) for role in ("offerer", "answerer")}
    sessions = {role: PeerSession(agent_config(role), controls[role]) for role in controls}  # type: ignore[arg-type]
    controls["offerer"].peer, controls["answerer"].peer = sessions["answerer"], sessions["offerer"]
    offerer = sessions["offerer"]
    try:
        for session in sessions.values():
            await session.start()
        await wait_for(lambda: all(s.pc is not None and s.pc.connectionState == "connected"
                                   for s in sessions.values()), 30, "connected")
        # a second interface comes up on the offerer's host
        addresses.append("127.0.0.2")
        offerer._on_network_change({"event": "RTM_NEWADDR", "ifindex": 1, "address": "127.0.0.2"})
        await wait_for(lambda: any(e["kind"] == "selected_pair" and e["local_address"].startswith("127.0.0.2")
                                   for e in controls["offerer"].events), 30, "the new address selected")
        sent = [e for e in controls["offerer"].events if e["kind"] == "candidate_sent"]
        new = [e for e in sent if e.get("address") == "127.0.0.2"]
        assert new and AGREED <= set(new[0]) and new[0]["generation"] == 0 and new[0]["type"] == "host"
        # the old one goes away: pruned at once, the call stays on the new address
        addresses.remove("127.0.0.1")
        offerer._on_network_change({"event": "RTM_DELADDR", "ifindex": 1, "address": "127.0.0.1"})
        (transport,) = offerer.pc.getIceTransports()
        await wait_for(lambda: {c.host for c in transport.activeGeneration.connection.local_candidates}
                       == {"127.0.0.2"}, 10, "the old address pruned")
        before = sum(1 for e in controls["answerer"].events if e["kind"] == "media_rx")
        await wait_for(lambda: sum(1 for e in controls["answerer"].events if e["kind"] == "media_rx")
                       > before + 10, 10, "media keeps flowing")
        restarts = [e for c in controls.values() for e in c.events if e["kind"] == "restart"]
        assert [e["action"] for e in restarts] == ["continual-gathering"] * len(restarts)
        assert all(t.restarts == 0 for s in sessions.values() for t in s.pc.getIceTransports())
        errors = [e for c in controls.values() for e in c.events if e["kind"] == "error"]
        assert not errors, errors
        json.dumps(sent)  # events are JSON lines
    finally:
        for session in sessions.values():
            await session.stop()

