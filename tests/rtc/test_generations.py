"""Per-generation behaviour: fallback when a new generation fails, fresh server-reflexive
candidates after setConfiguration(), stats per pair and generation, the import-time check."""

from __future__ import annotations

import asyncio

import aioice.ice
import pytest
from aioice import stun
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.sdp import SessionDescription

from lab.rtc import compat

from .peers import PathCut, cut_generation, make_peer, negotiate, start_call, wait_for


async def test_failed_new_generation_keeps_the_old_one() -> None:
    quick = {"new_generation_timeout": 1.5}
    call = await start_call(make_peer(**quick), make_peer(**quick))
    failures: list[object] = []
    call.a.on("generationfailed", failures.append)
    call.a.restartIce()
    await call.a.setLocalDescription()
    blackhole = PathCut()
    cut_generation(blackhole, call.transport(call.a).pendingGeneration)
    blackhole.active = True
    await call.b.setRemoteDescription(call.a.localDescription)
    await call.b.setLocalDescription()
    await call.a.setRemoteDescription(call.b.localDescription)
    await wait_for(lambda: failures, what="the new generation to give up")
    assert call.transport(call.a).activeGeneration.number == 0
    assert call.a.iceConnectionState == "connected"
    before = call.media_a.count(0)
    await wait_for(lambda: call.media_a.count(0) > before + 10, what="media on the old pair")
    # a later restart still works
    await wait_for(lambda: call.transport(call.b).pendingGeneration is None, what="b gave up")
    call.a.restartIce()
    await negotiate(call.a, call.b)
    await wait_for(lambda: call.transport(call.a).activeGeneration.number == 2, what="gen 2")
    await wait_for(lambda: call.media_a.count(2) > 5, what="media on generation 2")
    await call.close()


class StunResponder(asyncio.DatagramProtocol):
    """A minimal STUN server on loopback: answers Binding requests with the source address."""

    def __init__(self) -> None:
        self.requests = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = stun.parse_message(data)
        if request.message_class != stun.Class.REQUEST:
            return
        self.requests += 1
        response = stun.Message(
            message_method=stun.Method.BINDING,
            message_class=stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = addr
        self.transport.sendto(bytes(response), addr)  # type: ignore[attr-defined]


def candidate_types(sdp: str) -> set[str]:
    return {c.type for m in SessionDescription.parse(sdp).media for c in m.ice_candidates}


async def test_set_configuration_gives_the_next_generation_fresh_srflx_candidates() -> None:
    loop = asyncio.get_running_loop()
    transport, responder = await loop.create_datagram_endpoint(
        StunResponder, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    call = await start_call(make_peer(), make_peer())
    assert candidate_types(call.a.localDescription.sdp) == {"host"}
    trickled: list[tuple[str, str]] = []  # (ufrag, type) of a's trickled candidates
    call.a.on(
        "icecandidate",
        lambda c=None: c is not None and trickled.append((c.usernameFragment, c.type)),
    )
    call.a.setConfiguration(RTCConfiguration(iceServers=[RTCIceServer(f"stun:127.0.0.1:{port}")]))
    for generation in (1, 2):
        asked = responder.requests
        call.a.restartIce()
        await negotiate(call.a, call.b)
        ufrag = call.transport(call.a).iceGatherer.getLocalParameters().usernameFragment
        # described at once, or trickled right after (the offer did not wait for the server)
        await wait_for(
            lambda u=ufrag: "srflx" in candidate_types(call.a.localDescription.sdp)
            or (u, "srflx") in trickled,
            what="a server-reflexive candidate of the new generation",
        )
        assert responder.requests > asked  # every generation asks the server again
        await wait_for(
            lambda g=generation: call.transport(call.a).activeGeneration.number == g,
            what=f"generation {generation}",
        )
    await call.close()
    transport.close()


async def test_stats_show_selected_pair_generation_and_bytes() -> None:
    call = await start_call(make_peer(), make_peer())
    call.a.restartIce()
    await negotiate(call.a, call.b)
    await wait_for(lambda: call.transport(call.a).activeGeneration.number == 1, what="gen 1")
    await asyncio.sleep(0.3)
    report = await call.a.getStats()
    (ice,) = [s for s in report.values() if s.type == "transport"]
    assert ice.generation == 1 and ice.restarts == 1 and ice.iceState == "connected"
    selected = report[ice.selectedCandidatePairId]
    assert selected.type == "candidate-pair" and selected.generation == 1 and selected.selected
    assert selected.bytesSent > 0 and selected.bytesReceived > 0
    local = report[selected.localCandidateId]
    assert local.candidateType == "host" and local.generation == 1
    assert report[selected.remoteCandidateId].type == "remote-candidate"
    old_pairs = [s for s in report.values() if s.type == "candidate-pair" and s.generation == 0]
    assert old_pairs and any(p.bytesReceived > 0 for p in old_pairs)  # lingering generation 0
    await call.close()


async def test_stats_use_w3c_types_and_values() -> None:
    """W3C webrtc-stats: ICE fields on the one 'transport' entry (the DTLS transport's, with its
    counters), RTCStatsIceCandidatePairState spellings, no type W3C does not define."""
    call = await start_call(make_peer(), make_peer())
    report = await call.a.getStats()
    w3c_types = {
        "codec", "inbound-rtp", "outbound-rtp", "remote-inbound-rtp", "remote-outbound-rtp",
        "media-source", "peer-connection", "data-channel", "transport", "candidate-pair",
        "local-candidate", "remote-candidate", "certificate",
    }
    assert {s.type for s in report.values()} <= w3c_types
    (transport,) = [s for s in report.values() if s.type == "transport"]
    (dtls,) = [t.receiver.transport for t in call.a.getTransceivers()]
    assert transport.id == dtls._stats_id and transport.dtlsState == "connected"
    assert transport.iceState == "connected" and transport.iceRole in ("controlling", "controlled")
    assert transport.packetsSent > 0 and transport.iceLocalUsernameFragment
    pair_states = {"frozen", "waiting", "in-progress", "failed", "succeeded"}
    pairs = [s for s in report.values() if s.type == "candidate-pair"]
    assert pairs and {p.state for p in pairs} <= pair_states
    for outbound in (s for s in report.values() if s.type == "outbound-rtp"):
        assert outbound.transportId == transport.id
    await call.close()


def test_import_check_names_a_missing_private(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.check()
    monkeypatch.delattr(aioice.ice.Connection, "query_consent")
    with pytest.raises(compat.IncompatibleAiortc, match="query_consent"):
        compat.check()


def test_import_check_names_a_wrong_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "version", lambda package: "9.9.9")
    with pytest.raises(compat.IncompatibleAiortc, match="aiortc==1.16.0"):
        compat.check()


def test_import_check_names_an_attribute_init_no_longer_sets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        compat.ASSIGNED_IN_INIT, "aioice.ice.CandidatePair", ("protocol", "renamed_thing")
    )
    with pytest.raises(compat.IncompatibleAiortc, match="CandidatePair.renamed_thing"):
        compat.check()


def test_import_check_names_a_newly_relied_on_private(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc.rtcpeerconnection import RTCPeerConnection as Plain

    monkeypatch.delattr(Plain, "_RTCPeerConnection__createTransceiver")
    with pytest.raises(compat.IncompatibleAiortc, match="createTransceiver"):
        compat.check()


def test_import_check_names_what_aiortc_reads_back_from_a_replacement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lab.rtc.ice_transport import RestartableIceGatherer

    compat.check_read_back()
    monkeypatch.delattr(RestartableIceGatherer, "getLocalCandidates")
    with pytest.raises(compat.IncompatibleAiortc, match="RestartableIceGatherer lacks 'getLocalCandidates'"):
        compat.check()
