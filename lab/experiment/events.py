"""The event log: one tidy table of everything that happened in the trials of a run.

Clock: every timestamp is `time.monotonic()` (CLOCK_MONOTONIC) read in the process where the
event happened: the orchestrator or a peer agent. CLOCK_MONOTONIC is one system-wide clock;
network namespaces do not change it (only time namespaces would, and the lab makes none), so
timestamps from different processes on this machine are directly comparable. The metrics rely
on that. (Docker containers share the host kernel's clock too.)

Columns (events.parquet):
    trial_id     str      the trial (see lab.experiment.plan)
    peer         str      "offerer", "answerer" or "orchestrator"
    t_monotonic  float64  seconds, CLOCK_MONOTONIC
    kind         str      see KINDS
    state        str      for *_state kinds: the new state; else null
    seq          Int64    media_tx/media_rx: RTP sequence number; else null
    ssrc         Int64    media_tx/media_rx: RTP SSRC; else null
    detail       str      JSON object with the event's other fields ("{}" when none)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

COLUMNS = ["trial_id", "peer", "t_monotonic", "kind", "state", "seq", "ssrc", "detail"]

PEERS = ("offerer", "answerer")
ORCHESTRATOR = "orchestrator"

# kind -> who reports it and what it means
KINDS: dict[str, str] = {
    # orchestrator
    "trial_start": "orchestrator began the trial (before the topology is up)",
    "topology_up": "topology built, shaping applied",
    "agents_started": "both peer agents are running",
    "media_flowing": "media received at both peers: the call is up",
    "fault": "the fault was injected (detail: type, params)",
    "browser_warmup": "browser_state warm: a browser host's uplinks went down and up before the call (detail: host, ifaces)",
    "fault_step": "a later step of a multi-step fault (e.g. link down after the overlap)",
    "fault_end": "a transient fault was lifted",
    "observation_end": "the orchestrator's observation ended (detail: reason: media steady again, "
                       "window over, every peer connection closed)",
    "trial_end": "the orchestrator stopped observing",
    # peers
    "agent_ready": "agent started (detail: host, pid, policy)",
    "signaling_state": "RTCPeerConnection.signalingState",
    "ice_state": "RTCPeerConnection.iceConnectionState",
    "connection_state": "RTCPeerConnection.connectionState",
    "gathering_state": "RTCPeerConnection.iceGatheringState",
    "negotiationneeded": "the negotiationneeded event",
    "negotiation": "a perfect-negotiation step (detail: the negotiator's event)",
    "offer_sent": "a local offer was sent (detail: ice_ufrag, negotiation_id made by the offerer)",
    "answer_sent": "a local answer was sent (detail: ice_ufrag, negotiation_id of the offer it answers)",
    "offer_received": "a remote offer was applied (detail: ice_ufrag, negotiation_id)",
    "answer_received": "a remote answer was applied (detail: ice_ufrag, negotiation_id of our offer)",
    "restart": "the policy restarted (detail: action, reason)",
    "pc_replaced": "full reconnect: a new RTCPeerConnection replaced the old one",
    "selected_pair": "the selected candidate pair changed (detail: local/remote type, address, generation)",
    "network_change": "an interface or address changed in the peer's namespace",
    "media_tx": "an RTP packet of the synthetic audio track was sent",
    "media_rx": ("an RTP packet of the synthetic audio track was received (detail: generation and, from lab.rtc, "
                 "the candidate pair it arrived on: local_type, local_address, remote_type, remote_address)"),
    "error": "an exception in the agent (detail: message)",
    "agent_loaded": "the agent process started and read its config (detail: pid)",
    "agent_exit": "the agent is exiting",
    "signaling_channel": "the lab signaling client's connection changed (state, detail: reason)",
    "signaling_outage": "the agent began a commanded signaling outage (detail: duration_s)",
    "signaling_reconnect": "the agent dropped its signaling socket after a network change",
    "pong": "answer to the orchestrator's ping (detail: t_sent, at)",
    # browser agents only (lab.runtime.chromium, lab.runtime.firefox)
    "browser_ready": "the browser and page are up (detail: pid, version)",
    "clock_sync": "page clock mapped onto CLOCK_MONOTONIC (detail: offset_s, uncertainty_ms)",
    "stats_pair": "the selected pair as seen in getStats() (detail: gen, pair fields)",
    "media_stats": "periodic inbound/outbound RTP counters from getStats()",
    "pair_rx": "a candidate pair began (edge start: the first packet within window_ms before t) or stopped "
               "(edge stop: t is its last packet) receiving data (detail: edge, window_ms, pair fields)",
    "pair_tx": "the same for data sent on a candidate pair (getStats bytesSent)",
    "dtls_state": "the page's RTCDtlsTransport changed state (detail: state, gen)",
    "candidate_sent": "a local ICE candidate was signaled (detail: ice_ufrag, generation, type, address, port, "
                      "protocol, interface, related_address/port; end_of_candidates (type null), withheld)",
    "browser_network": "the page's online/offline or connection change (detail: event, online)",
    # a leg through the SFU (lab.runtime.agent.janus_session)
    "sfu_session": "the leg's Janus session: attached, published, subscribed, reconnecting (its socket "
                   "closed), reclaimed (claimed on a new socket), gone (detail: leg, reason)",
    "sfu_event": "Janus said something of the leg (webrtcup, media, hangup, slowlink) or a request timed out",
    "sfu_restart_refused": "the policy fired but the leg's Janus session is gone: no ICE restart is possible "
                           "(detail: leg, reason)",
}

_TYPED = {"state", "seq", "ssrc"}


def event_row(trial_id: str, peer: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """One table row from one JSON event line: {"t": ..., "kind": ..., other fields...}."""
    detail = {k: v for k, v in record.items() if k not in _TYPED and k not in ("t", "kind")}
    return {
        "trial_id": trial_id,
        "peer": peer,
        "t_monotonic": float(record["t"]),
        "kind": str(record["kind"]),
        "state": record.get("state"),
        "seq": record.get("seq"),
        "ssrc": record.get("ssrc"),
        "detail": json.dumps(detail, sort_keys=True, default=str),
    }


def events_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    return frame.astype({
        "trial_id": "string", "peer": "string", "t_monotonic": "float64", "kind": "string",
        "state": "string", "seq": "Int64", "ssrc": "Int64", "detail": "string",
    })


def detail_of(frame: pd.DataFrame) -> pd.Series:
    """The detail column parsed back into dicts."""
    return frame["detail"].map(lambda s: json.loads(s) if isinstance(s, str) and s else {})
