"""lab.analysis.engines on hand-made event tables (the analysis is a pure function of events):
per-peer detection and media-back times, which engine was first, stand-ins marked."""

from __future__ import annotations

import json

import pandas as pd

from lab.analysis.engines import engine_peers, engine_table


def _trial(trial_id: str, kinds: tuple[str, str], detect: tuple[float, float], back: tuple[float, float],
           profiles: tuple[str | None, str | None] = (None, None)) -> tuple[dict[str, object], list[dict[str, object]]]:
    events: list[dict[str, object]] = []

    def add(peer: str, t: float, kind: str, state: str | None = None, seq: int | None = None,
            detail: dict[str, object] | None = None) -> None:
        events.append({"trial_id": trial_id, "run": "r", "peer": peer, "t_monotonic": t, "kind": kind,
                       "state": state, "seq": seq, "ssrc": 1 if seq is not None else None,
                       "detail": json.dumps(detail or {})})

    for i, role in enumerate(("offerer", "answerer")):
        add(role, 0.5, "agent_ready", detail={"rtc_profile": profiles[i]} if profiles[i] else {})
        for n in range(50):  # media every 20 ms until the fault at t=10
            add(role, 9.0 + n * 0.02, "media_rx", seq=n)
        n = 0
        while 10.0 + back[i] + n * 0.02 < 19.99:  # and flowing to the end of the trial
            add(role, 10.0 + back[i] + n * 0.02, "media_rx", seq=100 + n)
            n += 1
        add(role, 10.0 + detect[i], "ice_state", state="disconnected")
    add("orchestrator", 10.0, "fault")
    add("orchestrator", 20.0, "trial_end")
    trial = {"trial_id": trial_id, "run": "r", "policy": "p", "peer_kind": "-".join(kinds),
             "offerer_kind": kinds[0], "answerer_kind": kinds[1]}
    return trial, events


def test_engine_table_says_which_engine_was_first() -> None:
    trials, events = [], []
    for trial_id, kinds, detect, back, profiles in [
        ("t1", ("chromium", "firefox"), (5.0, 8.0), (1.0, 0.8), (None, None)),
        ("t2", ("chromium", "firefox"), (6.0, 7.5), (1.2, 0.9), (None, None)),
        ("t3", ("aiortc", "firefox"), (2.0, 8.0), (0.5, 0.6), ("chrome", None)),
    ]:
        trial, rows = _trial(trial_id, kinds, detect, back, profiles)
        trials.append(trial)
        events += rows
    peers = engine_peers(pd.DataFrame(trials), pd.DataFrame(events))
    assert len(peers) == 6
    table = engine_table(peers).set_index("engine")
    assert table.loc["chromium", "detected_ms_median"] == 5500.0
    assert table.loc["firefox", "detected_ms_median"] == 8000.0
    assert (table.loc["chromium", "detected_first"], table.loc["chromium", "mixed_trials"]) == (2, 2)
    assert (table.loc["firefox", "media_back_first"], table.loc["firefox", "mixed_trials"]) == (2, 3)
    # the aiortc peer with the chrome profile is a stand-in, reported apart from real browsers
    assert bool(table.loc["aiortc~chrome", "stand_in"]) and not bool(table.loc["chromium", "stand_in"])
    assert table.loc["aiortc~chrome", "media_back_ms_median"] == 500.0


def test_engine_table_says_which_path_media_came_back_on() -> None:
    """A peer's media back counts on the new pair only where its own evidence places it there
    (here the browser's per-pair data edges, pair_rx); a peer without any is 'unknown'."""
    trial, events = _trial("t1", ("chromium", "firefox"), (5.0, 8.0), (1.0, 0.8))
    old = {"local_type": "host", "local_address": "10.0.1.2:1", "remote_type": "host", "remote_address": "10.0.9.2:1"}
    new = {"local_type": "host", "local_address": "10.0.2.2:2", "remote_type": "host", "remote_address": "10.0.9.2:2"}
    for t, edge, pair, generation, window in [(8.95, "start", old, 0, 20.0), (10.0, "stop", old, 0, None),
                                              (11.03, "start", new, 1, 50.0)]:
        events.append({"trial_id": "t1", "run": "r", "peer": "offerer", "t_monotonic": t, "kind": "pair_rx",
                       "state": None, "seq": None, "ssrc": None,
                       "detail": json.dumps({"edge": edge, "generation": generation, "window_ms": window, **pair})})
    peers = engine_peers(pd.DataFrame([trial]), pd.DataFrame(events)).set_index("engine")
    assert peers.loc["chromium", "resumed_on"] == "new-pair" and peers.loc["firefox", "resumed_on"] == "unknown"
    table = engine_table(peers.reset_index()).set_index("engine")
    assert (table.loc["chromium", "back_new_pair"], table.loc["chromium", "back_unknown"]) == (1, 0)
    assert (table.loc["firefox", "back_new_pair"], table.loc["firefox", "back_unknown"]) == (0, 1)
