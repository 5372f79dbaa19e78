"""Every event kind a peer agent (aiortc or Chromium) emits is documented in events.KINDS.

Cheap and static: the kinds are read from the agents' source (literal emit("kind") calls; the
offer/answer templates `${type}_sent` / f"{type}_received" expand to both description types).
"""

from __future__ import annotations

import re
from pathlib import Path

from lab.experiment.events import KINDS

ROOT = Path(__file__).resolve().parents[2]
AGENT_SOURCES = [
    *sorted((ROOT / "lab/runtime/agent").glob("*.py")),
    *sorted((ROOT / "lab/runtime/chromium").glob("*.py")),
    ROOT / "lab/runtime/chromium/page/peer.js",
]
# control-channel traffic that the orchestrator consumes and never writes to the event log
NOT_LOGGED = {"signal", "log", "message"}

_LITERAL = re.compile(r"""\bemit\(\s*["']([a-z_]+)["']""")
_TEMPLATE = re.compile(r"""\bemit\(\s*(?:f["']|`)[^"'`]*\}_([a-z]+)["'`]""")


def emitted_kinds() -> set[str]:
    kinds: set[str] = set()
    for path in AGENT_SOURCES:
        text = path.read_text()
        kinds.update(_LITERAL.findall(text))
        for suffix in _TEMPLATE.findall(text):
            kinds.update({f"offer_{suffix}", f"answer_{suffix}"})
    return kinds - NOT_LOGGED


def test_the_scan_finds_the_agents_kinds() -> None:
    kinds = emitted_kinds()
    assert {"agent_ready", "media_tx", "offer_sent", "answer_received", "browser_ready", "stats_pair"} <= kinds


def test_every_emitted_kind_is_documented() -> None:
    missing = sorted(emitted_kinds() - set(KINDS))
    assert not missing, f"event kinds emitted by an agent but not in lab.experiment.events.KINDS: {missing}"
