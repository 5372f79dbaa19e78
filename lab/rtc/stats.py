"""W3C-shaped ICE statistics (candidate pairs, candidates, transport) for getStats()."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from aiortc import clock
from aiortc.stats import RTCStats, RTCStatsReport

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
class RTCIceTransportStats(RTCStats):
    iceState: str
    iceRole: str
    generation: int
    selectedCandidatePairId: Optional[str]
    restarts: int
    droppedSends: int
    localUsernameFragment: str
    liveGenerations: int


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


def ice_stats(transport: RestartableIceTransport) -> RTCStatsReport:
    report = RTCStatsReport()
    timestamp = clock.current_datetime()
    transport_id = f"ice_{id(transport)}"
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
                state=pair.state.name.lower(),
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
        RTCIceTransportStats(
            timestamp=timestamp,
            type="ice-transport",
            id=transport_id,
            iceState=transport.state,
            iceRole=transport.role,
            generation=active.number,
            selectedCandidatePairId=selected_id,
            restarts=transport.restarts,
            droppedSends=transport.dropped_sends,
            localUsernameFragment=active.local.usernameFragment or "",
            liveGenerations=len(transport.generations),
        )
    )
    return report
