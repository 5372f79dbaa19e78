"""W3C ICE statistics (candidate pairs, candidates, transport) for getStats().

W3C webrtc-stats names: the transport's ICE fields live on its 'transport' entry (aiortc makes
one per DTLS transport with packet/byte counters; lab.rtc replaces it with the same entry plus
the ICE fields), candidate-pair states are RTCStatsIceCandidatePairState values
('in-progress', not aioice's 'in_progress'). Fields W3C does not define (generation, restarts,
droppedSends, liveGenerations, selected) are lab.rtc extensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from aiortc import clock
from aiortc.stats import RTCStats, RTCStatsReport, RTCTransportStats

from .ice_transport import RestartableIceTransport


@dataclass
class RTCIceCandidateStats(RTCStats):
    transportId: str
    address: str
    port: int
    protocol: str
    candidateType: str
    priority: int
    generation: int
    relatedAddress: Optional[str] = None
    relatedPort: Optional[int] = None


@dataclass
class RTCIceCandidatePairStats(RTCStats):
    transportId: str
    localCandidateId: str
    remoteCandidateId: str
    state: str
    nominated: bool
    selected: bool
    generation: int
    bytesSent: int
    bytesReceived: int
    packetsSent: int
    packetsReceived: int
    lastPacketReceivedTimestamp: Optional[float] = None


@dataclass
class LabTransportStats(RTCTransportStats):
    """W3C RTCTransportStats: aiortc's fields, the ICE ones, then lab.rtc's own."""

    iceState: str
    selectedCandidatePairId: Optional[str]
    iceLocalUsernameFragment: str
    generation: int
    restarts: int
    droppedSends: int
    liveGenerations: int


# RTCIceTransportState (W3C) for the transport's state; aiortc says 'completed' once nominated
W3C_ICE_TRANSPORT_STATE = {"completed": "connected"}


def _candidate_stats(
    kind: str, transport_id: str, generation: int, candidate: Any, timestamp: Any
) -> RTCIceCandidateStats:
    return RTCIceCandidateStats(
        timestamp=timestamp,
        type=kind,
        id=f"{kind}_{transport_id}_{generation}_{candidate.host}_{candidate.port}",
        transportId=transport_id,
        address=candidate.host,
        port=candidate.port,
        protocol=candidate.transport,
        candidateType=candidate.type,
        priority=candidate.priority,
        generation=generation,
        relatedAddress=candidate.related_address,
        relatedPort=candidate.related_port,
    )


def ice_stats(transport: RestartableIceTransport, base: RTCTransportStats) -> RTCStatsReport:
    """Candidate, pair and transport entries of one ICE transport; `base` is aiortc's
    'transport' entry of the DTLS transport above it (its id is kept)."""
    report = RTCStatsReport()
    timestamp = clock.current_datetime()
    transport_id = base.id
    active = transport.activeGeneration
    selected = active.selected_pair()
    selected_id: Optional[str] = None
    for generation, pair, traffic in transport.traffic():
        local = _candidate_stats(
            "local-candidate", transport_id, generation.number, pair.local_candidate, timestamp
        )
        remote = _candidate_stats(
            "remote-candidate", transport_id, generation.number, pair.remote_candidate, timestamp
        )
        report.add(local)
        report.add(remote)
        pair_id = f"pair_{local.id}_{remote.id}"
        is_selected = generation is active and pair is selected
        if is_selected:
            selected_id = pair_id
        report.add(
            RTCIceCandidatePairStats(
                timestamp=timestamp,
                type="candidate-pair",
                id=pair_id,
                transportId=transport_id,
                localCandidateId=local.id,
                remoteCandidateId=remote.id,
                state=pair.state.name.lower().replace("_", "-"),
                nominated=pair.nominated,
                selected=is_selected,
                generation=generation.number,
                bytesSent=traffic.bytes_sent,
                bytesReceived=traffic.bytes_received,
                packetsSent=traffic.packets_sent,
                packetsReceived=traffic.packets_received,
                lastPacketReceivedTimestamp=traffic.last_received,
            )
        )
    report.add(
        LabTransportStats(
            timestamp=timestamp,
            type="transport",
            id=transport_id,
            packetsSent=base.packetsSent,
            packetsReceived=base.packetsReceived,
            bytesSent=base.bytesSent,
            bytesReceived=base.bytesReceived,
            iceRole=transport.role,
            dtlsState=base.dtlsState,
            iceState=W3C_ICE_TRANSPORT_STATE.get(transport.state, transport.state),
            selectedCandidatePairId=selected_id,
            iceLocalUsernameFragment=active.local.usernameFragment or "",
            generation=active.number,
            restarts=transport.restarts,
            droppedSends=transport.dropped_sends,
            liveGenerations=len(transport.generations),
        )
    )
    return report
