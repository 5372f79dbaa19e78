"""The browser page hears of a network change as an app does from its OS.

Headless Chromium and Firefox fire no `online`/`offline`/`change` event on a standby handover
(Wi-Fi goes, LTE stays up), so the browser agent tells its page from its netlink watcher
(lab/runtime/chromium/network.py). Real parts: topologies/phone_handover.toml (kernel NATs,
coturn, the lab's WebSocket signaling server), the shipped standby Wi-Fi -> LTE handover, the
phone a real Chromium or Firefox, its peer aiortc. Two trials per browser:
  on-disconnected    the page's signaling socket, bound to the vanished Wi-Fi address, is
                     re-opened over LTE at the network event (not after the page's 3 s ack
                     timeout), though the policy itself does not act on network changes;
  on-network-change  the page's policy hears of the change and restarts ICE on it.
Asserted from the events and their order, never from wall-clock times.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lab.runtime.chromium.network import SignalingRoute
from tests.browsers.test_trials import run_lab
from tests.experiment.phone_handover import phone_handover

URL = "ws://203.0.113.2:8443/"


def test_the_socket_moves_only_when_the_route_to_the_server_left_its_address() -> None:
    """The decision alone, over a scripted route source (the real routes: the trials below)."""
    routes = ["192.168.1.2"]
    route = SignalingRoute(URL, source_of=lambda url: routes[-1])
    route.on_channel_state("connected")
    assert not route.must_reconnect()          # a netlink event that did not move the route
    routes.append("10.64.0.2")                  # Wi-Fi gone: the route leaves from LTE now
    assert route.must_reconnect()
    assert not route.must_reconnect()           # further events of the same handover
    route.on_channel_state("disconnected")
    routes.append(None)                         # no route at all: nothing to reconnect over
    assert not route.must_reconnect()
    routes.append("10.64.0.2")                  # not connected, a route again: cut the backoff
    assert route.must_reconnect()
    route.on_channel_state("connected")
    routes.append(None)                         # connected, and the route vanished
    assert route.must_reconnect()


# a settle wait long enough to tell apart from none: the standby handover's event finds LTE's
# route and address in place (settled), so the page's policy must not wait it
SETTLE_S = 5.0
BOTH_POLICIES = ('"on-disconnected", { preset = "on-network-change", name = "netchange-phone", side = "offerer", '
                 f'network_settle_s = {SETTLE_S} }}')


def experiment(kind: str, policies: str = BOTH_POLICIES) -> str:
    """The phone (a `kind` browser) hands over; its peer is aiortc. `policies`: the list's body."""
    return phone_handover(f"network_signal_{kind}", seed=16, policies=policies,
                          peers=f'offerer_kind = "{kind}"\nanswerer_kind = "aiortc"',
                          ice="consent_interval_s = 1.0\ndisconnected_after_s = 2.0\nfailed_after_s = 6.0",
                          connect_s=60, recover_s=30, trial_s=120, settle_s=1)


def details(rows: pd.DataFrame) -> list[dict[str, object]]:
    return [json.loads(d) if isinstance(d, str) and d else {} for d in rows["detail"]]


def check_signaling_moved_at_the_network_event(phone: pd.DataFrame, label: str) -> None:
    # the handover is the only network event once the call is up (the agent's netlink event may
    # be stamped a fraction of a millisecond before the orchestrator's fault record)
    connected = phone[(phone["kind"] == "connection_state") & (phone["state"] == "connected")]
    after = phone[phone["t_monotonic"] > float(connected["t_monotonic"].min())]
    reconnects = after[after["kind"] == "signaling_reconnect"]
    assert not reconnects.empty, f"{label}: the page's signaling waited for its ack timeout"
    assert {d["reason"] for d in details(reconnects)} == {"network-change"}
    t_reconnect = float(reconnects["t_monotonic"].min())
    channel = after[after["kind"] == "signaling_channel"].sort_values("t_monotonic")
    states = list(zip(channel["state"], [d.get("reason") for d in details(channel)], strict=True))
    # the socket was dropped because the network changed, never by the ack timeout
    assert states and states[0] == ("disconnected", "network changed"), (label, states)
    assert not [s for s in states if "no ack" in str(s[1])], (label, states)
    rejoined = channel[(channel["state"] == "connected") & (channel["t_monotonic"] >= t_reconnect)]
    assert not rejoined.empty, (label, states)


@pytest.mark.usefixtures("no_leftovers")
def test_a_standby_handover_reaches_the_page(kind: str, tmp_path: Path) -> None:
    spec = tmp_path / "exp.toml"
    spec.write_text(experiment(kind))
    out = tmp_path / "run"
    done = run_lab("run", str(spec), "--out", str(out), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = pd.read_parquet(out / "trials.parquet")
    assert sorted(trials["policy"]) == ["netchange-phone", "on-disconnected"]
    check_trials(trials, pd.read_parquet(out / "events.parquet"), kind)


def check_trials(trials: pd.DataFrame, events: pd.DataFrame, kind: str) -> None:
    for _, row in trials.iterrows():
        label = f"{row['trial_id']} ({row['policy']})"
        assert row["status"] == "ok", (label, row.get("failure_reason"))
        mine = events[events["trial_id"] == row["trial_id"]]
        t_fault = float(mine.loc[mine["kind"] == "fault", "t_monotonic"].min())
        phone = mine[mine["peer"] == "offerer"]
        ready = details(phone[phone["kind"] == "agent_ready"])
        assert ready[0]["peer_kind"] == kind
        # the browser itself said nothing of the handover (no online/offline/change event)
        assert phone[phone["kind"] == "browser_network"].empty, label
        check_signaling_moved_at_the_network_event(phone, label)
        restarts = phone[(phone["kind"] == "restart") & (phone["t_monotonic"] >= t_fault)]
        reasons = [d.get("reason") for d in details(restarts)]
        changes = phone[(phone["kind"] == "network_change") & (phone["t_monotonic"] >= t_fault)]
        if row["policy"] == "on-disconnected":
            # the ICE decision stays the policy's: the page's policy never heard of the change
            assert changes.empty, label
            assert "network-change" not in reasons, (label, reasons)
        else:
            assert not changes.empty, label
            assert reasons and reasons[0] == "network-change", (label, reasons)
            settled = changes[[bool(d.get("settled")) for d in details(changes)]]
            assert not settled.empty, (label, details(changes))
            waited = float(restarts["t_monotonic"].min()) - float(settled["t_monotonic"].min())
            assert waited < SETTLE_S, (label, waited)  # restarted at the settled event, no settle wait
            assert bool(row["recovered"]), (label, row.get("failure_reason"))


@pytest.mark.usefixtures("no_leftovers")
def test_a_make_before_break_restart_leaves_the_page_ready_for_the_next_change(kind: str, tmp_path: Path) -> None:
    """Overlap handover: LTE comes up (the page restarts ICE; its media never leaves 'connected',
    so only the new selected pair says that restart is over), then Wi-Fi goes: that network change
    restarts again at once, not the policy's retry 10 s after the first restart."""
    text = phone_handover(f"overlap_signal_{kind}", seed=18,
                          policies='{ preset = "on-network-change", name = "netchange-phone", side = "offerer" }',
                          peers=f'offerer_kind = "{kind}"\nanswerer_kind = "aiortc"',
                          ice="consent_interval_s = 1.0\ndisconnected_after_s = 2.0\nfailed_after_s = 6.0",
                          connect_s=60, recover_s=30, trial_s=120, settle_s=1,
                          variant='variant = "overlap"\noverlap_s = 2.0')
    spec = tmp_path / "exp.toml"
    spec.write_text(text)
    out = tmp_path / "run"
    done = run_lab("run", str(spec), "--out", str(out), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    events = pd.read_parquet(out / "events.parquet")
    t_fault = float(events.loc[events["kind"] == "fault", "t_monotonic"].min())
    phone = events[events["peer"] == "offerer"]
    restarts = phone[phone["kind"] == "restart"].sort_values("t_monotonic")
    before = details(restarts[restarts["t_monotonic"] < t_fault])
    after = details(restarts[restarts["t_monotonic"] >= t_fault])
    assert [d.get("reason") for d in before][:1] == ["network-change"], before  # at the make
    assert after and after[0].get("reason") == "network-change", after  # at the break, not 'retry'
