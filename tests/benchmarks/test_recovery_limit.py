"""The limits benchmarks/recovery_limit.py prints: the consent-age law, the expected first
state change of the peers a silent fault cuts, and which peers a trial's events say were cut."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def load() -> ModuleType:
    name = "recovery_limit_under_test"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "recovery_limit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


rl = load()


def experiment(name: str) -> dict[str, object]:
    return tomllib.loads((ROOT / "experiments" / f"{name}.toml").read_text())


@pytest.mark.parametrize("consent,rtt", [(1.0, 0.02), (1.0, 0.1), (2.0, 0.0)])
def test_the_age_law_is_a_distribution_with_the_renewal_mean(consent: float, rtt: float) -> None:
    lo, hi = rtt + 0.8 * consent, rtt + 1.2 * consent
    assert rl.consent_age_cdf(0.0, consent, rtt) == 0.0
    assert rl.consent_age_cdf(hi, consent, rtt) == 1.0
    grid = [hi * i / 200 for i in range(201)]
    values = [rl.consent_age_cdf(a, consent, rtt) for a in grid]
    assert values == sorted(values)
    mean = rl._integrate(lambda a: 1 - rl.consent_age_cdf(a, consent, rtt), 0.0, hi)
    # E[T^2] / (2 E[T]) for T = r + C x U(0.8, 1.2)
    e_t = (lo + hi) / 2
    e_t2 = e_t**2 + (hi - lo) ** 2 / 12
    assert mean == pytest.approx(e_t2 / (2 * e_t), rel=1e-4)


def test_one_peer_changes_state_its_timer_after_its_last_answer() -> None:
    consent, after, rtt = 1.0, 2.0, 0.02
    mean_age = rl._integrate(lambda a: 1 - rl.consent_age_cdf(a, consent, rtt), 0.0, 2.0)
    assert rl.expected_first_state_s(consent, after, rtt, [0.0]) == pytest.approx(after - mean_age, rel=1e-4)
    # an answer still on its way at the fault (o after it) moves the deadline by o
    assert rl.expected_first_state_s(consent, after, rtt, [0.01]) == pytest.approx(
        after - mean_age + 0.01, rel=1e-4)


def test_two_peers_race_and_the_first_comes_sooner() -> None:
    one = rl.expected_first_state_s(1.0, 2.0, 0.0, [0.0])
    two = rl.expected_first_state_s(1.0, 2.0, 0.0, [0.0, 0.0])
    assert two < one
    # the older of two uniform ages is 2/3 of the period on average (the jitter adds a little)
    assert 2.0 - 2.0 / 3.0 - 0.03 < two < 2.0 - 2.0 / 3.0


def test_a_state_before_the_path_returns_waits_for_it() -> None:
    assert rl.expected_first_state_s(1.0, 2.0, 0.02, [0.005, 0.005], not_before=3.0) == 3.0


def test_binding_expiry_limit_counts_the_policy_wait_and_keeps_the_network_one() -> None:
    spec = experiment("binding_expiry")
    r = 20.0
    both = rl.FAULTS["binding_expiry"].limit(spec, "on-disconnected", r, (0.0, 0.5))
    expected = rl.expected_first_state_s(1.0, 2.0, r / 1000, [0.0, r / 2000]) + 3.5 * r / 1000
    assert both.policy_ms == pytest.approx(expected * 1000)
    assert both.network_ms < both.policy_ms
    # only the remote cut: later on average
    one = rl.FAULTS["binding_expiry"].limit(spec, "on-disconnected", r, (0.5,))
    assert one.policy_ms > both.policy_ms
    # on-failed waits for failed_after, and so does on-network-change here (no network event:
    # only its 'failed' backstop restarts); a policy waiting for no state gets the network's
    failed = rl.FAULTS["binding_expiry"].limit(spec, "on-failed", r, (0.0, 0.5))
    assert failed.policy_ms > both.policy_ms + 3000
    backstop = rl.FAULTS["binding_expiry"].limit(spec, "on-network-change", r, (0.0, 0.5))
    assert backstop.policy_ms == pytest.approx(failed.policy_ms)
    never = rl.FAULTS["binding_expiry"].limit(spec, "none", r, (0.0, 0.5))
    assert never.policy_ms == pytest.approx(never.network_ms)


def test_relay_kill_limit_is_the_later_of_the_state_and_the_relay() -> None:
    spec = experiment("relay_kill")
    limit = rl.FAULTS["relay_kill"].limit(spec, "on-disconnected", 100.0, (0.25, 0.25))
    assert limit.network_ms == pytest.approx(2000 + 300)
    assert limit.policy_ms >= limit.network_ms
    slow = {**spec, "ice": {**spec["ice"], "disconnected_after_s": 5.0, "failed_after_s": 9.0}}
    later = rl.FAULTS["relay_kill"].limit(slow, "on-disconnected", 100.0, (0.25, 0.25))
    assert later.policy_ms > 2000 + 300 + 2000  # the state comes well after the relay is back


def events(local_type: str) -> pd.DataFrame:
    rows = [
        ("t", "offerer", 1.0, "selected_pair", json.dumps({"local_type": local_type})),
        ("t", "answerer", 1.0, "selected_pair", json.dumps({"local_type": "host"})),
        ("t", "orchestrator", 2.0, "fault", json.dumps({"type": "binding_expiry"})),
        ("t", "offerer", 3.0, "selected_pair", json.dumps({"local_type": "relay"})),
    ]
    return pd.DataFrame(rows, columns=["trial_id", "peer", "t_monotonic", "kind", "detail"])


def test_which_peers_a_binding_expiry_cut_comes_from_the_trial_events() -> None:
    fault = rl.FAULTS["binding_expiry"]
    assert rl.cut_peers(fault, events("relay"), "t", "offerer") == (0.0, 0.5)
    assert rl.cut_peers(fault, events("host"), "t", "offerer") == (0.5,)
    assert rl.cut_peers(rl.FAULTS["relay_kill"], events("host"), "t", "offerer") == (0.25, 0.25)


def test_the_peer_behind_the_faulted_router_is_read_from_the_topology() -> None:
    path = ROOT / "experiments" / "binding_expiry.toml"
    spec = experiment("binding_expiry")
    assert rl.peer_behind(path, spec, "nat_a") == "offerer"
    assert rl.peer_behind(path, spec, "nat_b") == "answerer"


def test_detection_lateness_is_read_from_the_state_event() -> None:
    rows = [
        ("t", "orchestrator", 10.0, "fault", None, "{}"),
        ("t", "answerer", 9.0, "ice_state", "disconnected", json.dumps({"last_heard_t": 6.0})),
        ("t", "answerer", 11.5, "ice_state", "disconnected", json.dumps({"last_heard_t": 9.4})),
        ("t", "offerer", 11.9, "ice_state", "disconnected", json.dumps({"last_heard_t": 9.8})),
    ]
    events = pd.DataFrame(rows, columns=["trial_id", "peer", "t_monotonic", "kind", "state", "detail"])
    spec = {"ice": {"disconnected_after_s": 2.0}}
    # the first after the fault: 11.5 - (9.4 + 2.0) = 0.1 s late
    assert rl.detection_late_ms(events, "t", spec) == pytest.approx(100.0)
    assert rl.detection_late_ms(events.iloc[:1], "t", spec) != rl.detection_late_ms(events.iloc[:1], "t", spec)


def test_the_relay_is_back_when_its_restart_returned() -> None:
    rows = [
        ("t", "orchestrator", 10.0, "fault", None, "{}"),
        ("t", "orchestrator", 12.08, "fault_end", None, "{}"),
    ]
    events = pd.DataFrame(rows, columns=["trial_id", "peer", "t_monotonic", "kind", "state", "detail"])
    spec = experiment("relay_kill")
    back = rl.path_back_ms(rl.FAULTS["relay_kill"], spec, events, "t")
    assert back == pytest.approx(2080.0)
    limit = rl.FAULTS["relay_kill"].limit(spec, "on-disconnected", 20.0, (0.25, 0.25), back)
    assert limit.network_ms == pytest.approx(2080.0 + 60.0)
    # without the event: the experiment's restart_after_s
    assert rl.path_back_ms(rl.FAULTS["relay_kill"], spec, events.iloc[:1], "t") == pytest.approx(2000.0)


def test_binding_expiry_path_is_when_the_state_came_due() -> None:
    rows = [
        ("t", "orchestrator", 10.0, "fault", None, "{}"),
        ("t", "answerer", 11.5, "ice_state", "disconnected", json.dumps({"last_heard_t": 9.4})),
    ]
    events = pd.DataFrame(rows, columns=["trial_id", "peer", "t_monotonic", "kind", "state", "detail"])
    spec = experiment("binding_expiry")  # disconnected_after_s 2
    assert rl.path_back_ms(rl.FAULTS["binding_expiry"], spec, events, "t") == pytest.approx(1400.0)
    assert rl.path_back_ms(rl.FAULTS["binding_expiry"], spec, events.iloc[:1], "t") == 0.0
