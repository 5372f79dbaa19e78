"""Every event kind a peer agent (aiortc, Chromium, Firefox) emits is one of lab.contract's
`EventKind`s, and every one of those is documented in lab.experiment.events.KINDS.

The Python agents are held to the contract by mypy (their emit takes an `EventKind`) and by
`event_line`, which refuses any other kind; the shared page speaks strings, so its kinds are read
from its source here (literal emit('kind') calls; the templates `${type}_sent` /
`${kind}_received` expand to both description types), and the browser agents' relay drops and
reports a kind the contract does not name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lab.contract import EVENT_KINDS, AgentConfig, Policy, event_line, is_event_kind
from lab.experiment.events import KINDS
from lab.runtime.chromium.clock import ClockOffset
from lab.runtime.chromium.peer import BrowserPeer

ROOT = Path(__file__).resolve().parents[2]
AGENT_SOURCES = [
    *sorted((ROOT / "lab/runtime/agent").glob("*.py")),
    *sorted((ROOT / "lab/runtime/chromium").glob("*.py")),
    *sorted((ROOT / "lab/runtime/firefox").glob("*.py")),
    *sorted((ROOT / "lab/runtime/chromium/page").glob("*.js")),
]
# control-channel traffic that the orchestrator consumes and never writes to the event log
NOT_LOGGED = {"signal"}
# page-side names that never leave the browser agent as events ('log' lines go to its log)
PAGE_ONLY = {"log"}

_LITERAL = re.compile(r"""\bemit\(\s*["']([a-z_]+)["']""")
_TEMPLATE = re.compile(r"""\bemit\(\s*(?:f["']|`)[^"'`]*\}_([a-z]+)["'`]""")


def emitted_kinds() -> set[str]:
    kinds: set[str] = set()
    for path in AGENT_SOURCES:
        text = path.read_text()
        kinds.update(_LITERAL.findall(text))
        for suffix in _TEMPLATE.findall(text):
            kinds.update({f"offer_{suffix}", f"answer_{suffix}"})
    return kinds - PAGE_ONLY - {"message"}  # pyee's own "message" event of the signaling channels


def test_the_scan_finds_the_agents_kinds() -> None:
    kinds = emitted_kinds()
    assert {"agent_ready", "media_tx", "offer_sent", "answer_received", "browser_ready", "stats_pair"} <= kinds


def test_every_emitted_kind_is_in_the_contract() -> None:
    unknown = sorted(emitted_kinds() - EVENT_KINDS)
    assert not unknown, f"event kinds emitted by an agent but not in lab.contract.events.EventKind: {unknown}"


def test_every_contract_kind_is_documented() -> None:
    missing = sorted(EVENT_KINDS - NOT_LOGGED - set(KINDS))
    assert not missing, f"event kinds of the contract not in lab.experiment.events.KINDS: {missing}"


def test_an_event_line_is_compact_json_and_refuses_a_kind_not_in_the_contract() -> None:
    line = event_line("media_rx", 12.5, {"seq": 7, "ssrc": 9, "generation": None})
    assert line == b'{"t":12.5,"kind":"media_rx","seq":7,"ssrc":9,"generation":null}\n'
    assert event_line("agent_exit", 1.0, {}) == b'{"t":1.0,"kind":"agent_exit"}\n'
    assert is_event_kind("pc_replaced") and not is_event_kind("pc_replacd") and not is_event_kind(None)
    with pytest.raises(ValueError, match="pc_replacd"):
        event_line("pc_replacd", 1.0, {})  # type: ignore[arg-type]


class RecordingControl:
    """The browser agent's control channel, recorded: the lines it would write."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def emit(self, kind: Any, t: float | None = None, **fields: Any) -> None:
        self.lines.append(event_line(kind, 0.0 if t is None else t, fields))


def test_the_browser_relay_passes_contract_kinds_as_they_came_and_reports_others() -> None:
    config = AgentConfig(trial_id="relay", role="offerer", host="alice", polite=False, restarts=True,
                         policy=Policy.model_validate("on-disconnected"))
    control = RecordingControl()
    peer = BrowserPeer(config, control)  # type: ignore[arg-type]
    peer.offset = ClockOffset(offset_s=100.0, uncertainty_ms=0.1, rtt_ms=0.1, rounds=1)
    peer._on_page_events([
        {"kind": "ice_state", "tp": 500.0, "state": "checking", "gen": 0},
        {"kind": "log", "tp": 501.0, "line": "a page log line"},
        {"kind": "ice_stat", "tp": 502.0, "state": "connected", "gen": 0},
        {"kind": "dtls_state", "tp": 503.0, "state": "connected", "gen": 0},
    ])
    records = [json.loads(line) for line in control.lines]
    assert control.lines[0] == b'{"t":100.5,"kind":"ice_state","state":"checking","gen":0}\n'
    assert [r["kind"] for r in records] == ["ice_state", "error", "dtls_state"]
    assert "'ice_stat'" in records[1]["message"] and records[1]["t"] == pytest.approx(100.502)
