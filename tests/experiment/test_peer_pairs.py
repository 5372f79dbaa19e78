"""Peer pairs as a matrix dimension and calibrated stand-ins (aiortc~chrome, aiortc~firefox):
the schema, the plan, and a real trial whose aiortc peers run lab.rtc's engine profiles."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lab.errors import ConfigError
from lab.experiment.plan import plan_trials
from lab.experiment.spec import load_experiment
from lab.rtc import DetectionConfig, IceOptions
from lab.rtc.profiles import PROFILES, apply_detection, apply_ice
from tests.experiment.short_blackhole import ROOT, short_blackhole


def write(tmp_path: Path, pairs: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(short_blackhole("pairs", seed=5) + f"\n[matrix]\npeer_pairs = {pairs}\n")
    return path


def test_peer_pairs_expand_the_plan(tmp_path: Path) -> None:
    spec = load_experiment(write(tmp_path, '["chromium-firefox", "aiortc~chrome-aiortc"]'))
    plans = plan_trials(spec)
    assert [p.trial_id.split("-on-")[0] for p in plans] == ["chromium-firefox", "aiortc~chrome-aiortc"]
    assert [(p.kind_of(spec, "offerer"), p.kind_of(spec, "answerer")) for p in plans] == \
        [("chromium", "firefox"), ("aiortc~chrome", "aiortc")]


@pytest.mark.parametrize("pairs", ['["chromium"]', '["chromium-safari"]', '["firefox-aiortc", "firefox-aiortc"]',
                                   '["aiortc~opera-aiortc"]'])
def test_bad_peer_pairs_name_the_key(tmp_path: Path, pairs: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_experiment(write(tmp_path, pairs))
    assert error.value.key == "matrix.peer_pairs"


def test_a_missing_browser_is_refused_by_the_edge_check_on_netns_only(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """lab.experiment.check asks the runtime kind (peer_kind_missing): on netns Firefox must be
    installed here; the Docker peer image carries it. Nothing is created either way."""
    from lab.experiment.check import check_experiment

    monkeypatch.setenv("ICELAB_FIREFOX", str(tmp_path / "no-firefox"))
    spec = load_experiment(write(tmp_path, '["aiortc-aiortc~chrome", "aiortc-firefox"]'))
    check_experiment(spec)  # without a runtime: the topology only
    with pytest.raises(ConfigError) as error:
        check_experiment(spec, runtime="netns")
    assert error.value.key == "matrix.peer_pairs" and "'firefox'" in error.value.reason
    check_experiment(spec, runtime="docker")


def test_browser_state_follows_the_trials_peer_pair(tmp_path: Path) -> None:
    """browser_state (warm/fresh) applies to the trials whose pair has a real browser; stand-ins
    and aiortc pairs record "n/a"."""
    from lab.experiment.browser_state import browser_hosts, browser_state_of

    spec = load_experiment(write(tmp_path, '["aiortc~chrome-aiortc", "aiortc-firefox", "chromium-firefox"]'))
    plans = plan_trials(spec)
    assert [browser_state_of(spec, p) for p in plans] == ["n/a", "warm", "warm"]
    assert [browser_hosts(spec, p) for p in plans] == [[], [spec.peers.answerer],
                                                       [spec.peers.offerer, spec.peers.answerer]]


@pytest.mark.parametrize("name", list(PROFILES))
def test_profiles_are_valid_lab_rtc_options(name: str) -> None:
    detection, skipped_d = apply_detection(name, DetectionConfig())
    ice, skipped_i = apply_ice(name, IceOptions())
    profile = PROFILES[name]
    for key, value in profile.detection.items():
        assert key in skipped_d or getattr(detection, key) == value
    for key, value in profile.ice.items():
        assert key in skipped_i or getattr(ice, key) == value
    # the liveness timers every lab.rtc has are always applied
    assert {"consent_interval", "disconnected_after", "failed_after"} <= set(profile.detection) - set(skipped_d)


def test_stand_in_trial_runs_the_profiles(tmp_path: Path) -> None:
    """A real trial of two stand-ins: each aiortc agent reports its profile, the results say
    which peers were stand-ins (peer_kind)."""
    experiment = write(tmp_path, '["aiortc~chrome-aiortc~firefox"]')
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "lab", "run", str(experiment), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    row = pd.read_parquet(out / "trials.parquet").iloc[0]
    assert row["peer_kind"] == "aiortc~chrome-aiortc~firefox" and row["status"] == "ok", row.to_dict()
    events = pd.read_parquet(out / "events.parquet")
    ready = events[events["kind"] == "agent_ready"]
    profiles = {peer: json.loads(detail).get("rtc_profile") for peer, detail in zip(ready["peer"], ready["detail"], strict=False)}
    assert profiles == {"offerer": "chrome", "answerer": "firefox"}
