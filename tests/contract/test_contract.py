"""The agent contract: commands and events round-trip through their wire form, and the agent
side of the lab does not depend on the orchestrator's experiment schema."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lab.contract import (
    AgentConfig,
    ConnectionStateEvent,
    Detection,
    MediaRxEvent,
    OtherEvent,
    Policy,
    Restart,
    Signal,
    SignalingOutage,
    Start,
    Stop,
    parse_command,
    parse_event,
)


def test_commands_round_trip_their_wire_form() -> None:
    for command in (Start(), Stop(reason="x"), Signal(msg={"description": {"type": "offer"}}),
                    SignalingOutage(duration_s=1.5), Restart(reason="test")):
        wire = json.loads(json.dumps(command.to_wire()))
        assert wire["cmd"] == command.kind
        assert parse_command(wire) == command


def test_an_unknown_or_malformed_command_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_command({"cmd": "reboot"})
    with pytest.raises(ValueError):
        parse_command({"cmd": "signaling_outage"})  # no duration


def test_events_are_typed_by_kind() -> None:
    assert isinstance(parse_event({"t": 1.0, "kind": "media_rx", "seq": 3, "ssrc": 9}), MediaRxEvent)
    state = parse_event({"t": 1.0, "kind": "connection_state", "state": "failed", "gen": 0})
    assert isinstance(state, ConnectionStateEvent) and state.state == "failed"
    other = parse_event({"t": 2.0, "kind": "clock_sync", "offset_s": 0.1})
    assert isinstance(other, OtherEvent) and other.fields()["offset_s"] == 0.1
    with pytest.raises(ValueError):
        parse_event({"kind": "media_rx"})


def test_one_detection_model_validates_its_order() -> None:
    with pytest.raises(ValueError, match="failed_after_s"):
        Detection(disconnected_after_s=5, failed_after_s=4)
    rtc = Detection().to_rtc()
    assert (rtc.consent_interval, rtc.disconnected_after, rtc.failed_after) == (1.0, 2.0, 8.0)


def test_agent_config_carries_a_preset_policy() -> None:
    config = AgentConfig(trial_id="t", role="offerer", host="alice", polite=False, restarts=True,
                         policy=Policy.model_validate("on-disconnected"))
    again = AgentConfig.model_validate_json(config.model_dump_json())
    assert again.policy.trigger == "disconnected" and again == config


def test_the_agents_do_not_import_the_orchestrator() -> None:
    code = ("import sys, lab.runtime.agent.session, lab.runtime.chromium.peer, lab.runtime.base; "
            "print(sorted(m for m in sys.modules if m.startswith('lab.experiment')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
