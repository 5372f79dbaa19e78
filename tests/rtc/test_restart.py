"""ICE restarts mid-call on real loopback UDP: make-before-break, cuts, outages, glare."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import RTCSessionDescription
from aiortc.sdp import SessionDescription

from lab.rtc import DetectionConfig, IceOptions, RTCPeerConnection, SelectedPairChange

from .peers import Call, PathCut, make_peer, negotiate, start_call, wait_for


def ufrag(description: RTCSessionDescription) -> str:
    return SessionDescription.parse(description.sdp).media[0].ice.usernameFragment


def dtls_session(pc: RTCPeerConnection) -> tuple[Any, Any, Any]:
    dtls = pc.getTransceivers()[0].receiver.transport
    return dtls._ssl, dtls._rx_srtp, dtls._tx_srtp


async def chat_during(call: Call, seconds: float) -> list[str]:
    """Send a numbered message every 20 ms for `seconds`; returns what was sent."""
    sent = []
    for i in range(int(seconds / 0.02)):
        text = f"m{len(call.received) + i}-{i}"
        call.channel.send(text)
        sent.append(text)
        await asyncio.sleep(0.02)
    return sent


async def restart_mid_call(initiator: str) -> None:
    call = await start_call(make_peer(), make_peer())
    local, remote = (call.a, call.b) if initiator == "a" else (call.b, call.a)
    sessions = (dtls_session(call.a), dtls_session(call.b))
    dtls_events: list[str] = []
    for pc in (call.a, call.b):
        dtls = pc.getTransceivers()[0].receiver.transport
        dtls.on("statechange", lambda: dtls_events.append("x"))
    old = (ufrag(call.a.localDescription), ufrag(call.b.localDescription))
    changes: list[SelectedPairChange] = []
    call.a.on("selectedcandidatepairchange", changes.append)

    chatting = asyncio.ensure_future(chat_during(call, 1.5))
    await asyncio.sleep(0.3)
    local.restartIce()
    await negotiate(local, remote)
    new = (ufrag(call.a.localDescription), ufrag(call.b.localDescription))
    assert new[0] != old[0] and new[1] != old[1], "both sides must answer with new credentials"
    assert ufrag(call.a.remoteDescription) == new[1]

    await wait_for(
        lambda: call.media_a.count(1) > 10 and call.media_b.count(1) > 10,
        what="media on the new generation",
    )
    sent = await chatting
    await wait_for(lambda: len(call.received) == len(sent), what="all chat messages")
    assert call.received == sent
    assert changes and changes[-1].pair.generation == 1 and changes[-1].previous_generation == 0
    # same DTLS session and SRTP contexts: no new handshake
    assert (dtls_session(call.a), dtls_session(call.b)) == sessions
    assert dtls_events == []
    assert call.a.connectionState == call.b.connectionState == "connected"
    assert call.states["a"] == ["checking", "connected"]
    # healthy path: no RTP packet lost across the cut-over
    await asyncio.sleep(0.2)
    assert call.media_a.lost() == 0 and call.media_b.lost() == 0
    await call.close()


async def test_local_restart_mid_call_loses_nothing() -> None:
    await restart_mid_call("a")


async def test_remote_restart_mid_call_loses_nothing() -> None:
    await restart_mid_call("b")


async def test_cut_path_goes_disconnected_then_failed_and_restart_recovers() -> None:
    call = await start_call(make_peer(), make_peer())
    cut = PathCut()
    cut.apply_to(call.a)
    cut.apply_to(call.b)
    sender = call.a.getSenders()[0]
    cut.active = True
    await wait_for(lambda: call.a.iceConnectionState == "failed", what="a failed")
    await wait_for(lambda: call.b.iceConnectionState == "failed", what="b failed")
    assert call.states["a"][-2:] == ["disconnected", "failed"]
    assert call.a.connectionState == "failed"
    # 'failed' closes nothing
    dtls = call.a.getTransceivers()[0].receiver.transport
    assert dtls.state == "connected"
    assert call.a.sctp is not None and call.a.sctp.state == "connected"
    assert call.a.signalingState == "stable"

    # a fresh path (as after a handover): the next generation gathers on 127.0.0.2
    for pc in (call.a, call.b):
        pc.setIceOptions(IceOptions(host_addresses=("127.0.0.2",)))
    before = call.media_b.count()
    call.a.restartIce()
    await negotiate(call.a, call.b)
    await wait_for(lambda: call.a.iceConnectionState == "connected", what="a recovered")
    await wait_for(lambda: call.b.iceConnectionState == "connected", what="b recovered")
    await wait_for(lambda: call.media_b.count(1) > 10 and call.media_a.count(1) > 10, what="media")
    assert call.media_b.count() > before
    assert call.a.getSenders()[0] is sender and dtls.state == "connected"
    pair = call.transport(call.a).getSelectedCandidatePair()
    assert pair.generation == 1 and pair.local_address[0] == "127.0.0.2"
    call.channel.send("after the outage")
    await wait_for(lambda: "after the outage" in call.received, what="data channel resumes")
    assert call.a.connectionState == call.b.connectionState == "connected"
    assert call.states["a"][-2:] == ["checking", "connected"]
    assert cut.dropped > 0
    await call.close()


async def test_transient_outage_recovers_without_restart() -> None:
    slow_fail = DetectionConfig(consent_interval=0.2, disconnected_after=0.6, failed_after=6.0)
    call = await start_call(make_peer(slow_fail), make_peer(slow_fail))
    cut = PathCut()
    cut.apply_to(call.a)
    cut.apply_to(call.b)
    cut.active = True
    await wait_for(lambda: call.a.iceConnectionState == "disconnected", what="disconnected")
    assert call.a.connectionState == "disconnected"
    await asyncio.sleep(2.0 - 0.6)
    cut.active = False
    await wait_for(lambda: call.a.iceConnectionState == "connected", what="reconnected")
    await wait_for(lambda: call.b.iceConnectionState == "connected", what="reconnected")
    assert "failed" not in call.states["a"]
    await wait_for(lambda: call.a.connectionState == "connected", what="connected again")
    assert call.transport(call.a).activeGeneration.number == 0
    before = call.media_a.count(0)
    await wait_for(lambda: call.media_a.count(0) > before + 10, what="media resumes")
    await call.close()


class TinyPerfectNegotiation:
    """The W3C perfect-negotiation pattern, only as far as this test needs it."""

    def __init__(self, pc: RTCPeerConnection, polite: bool) -> None:
        self.pc = pc
        self.polite = polite
        self.making_offer = False
        self.peer: TinyPerfectNegotiation | None = None
        self.inbox: asyncio.Queue[RTCSessionDescription] = asyncio.Queue()
        self.offers_made = 0
        self.collisions = 0
        pc.on("negotiationneeded", self.on_negotiation_needed)
        self.task = asyncio.ensure_future(self.run())

    async def on_negotiation_needed(self) -> None:
        try:
            self.making_offer = True
            await self.pc.setLocalDescription()
            self.offers_made += 1
            assert self.peer is not None
            self.peer.inbox.put_nowait(self.pc.localDescription)
        finally:
            self.making_offer = False

    async def run(self) -> None:
        while True:
            description = await self.inbox.get()
            collision = description.type == "offer" and (
                self.making_offer or self.pc.signalingState != "stable"
            )
            if collision:
                self.collisions += 1
                if not self.polite:
                    continue
            await self.pc.setRemoteDescription(description)
            if description.type == "offer":
                await self.pc.setLocalDescription()
                assert self.peer is not None
                self.peer.inbox.put_nowait(self.pc.localDescription)


async def test_restart_on_both_sides_at_once_never_wedges() -> None:
    call = await start_call(make_peer(), make_peer())
    impolite = TinyPerfectNegotiation(call.a, polite=False)
    polite = TinyPerfectNegotiation(call.b, polite=True)
    impolite.peer, polite.peer = polite, impolite
    for _ in range(3):
        generation = call.transport(call.a).activeGeneration.number
        call.a.restartIce()
        call.b.restartIce()
        await wait_for(
            lambda g=generation: (
                call.transport(call.a).activeGeneration.number > g
                and call.transport(call.b).activeGeneration.number > g
                and call.a.signalingState == call.b.signalingState == "stable"
            ),
            what="both sides restarted",
        )
    await asyncio.sleep(0.3)
    assert call.a.signalingState == call.b.signalingState == "stable"
    assert impolite.offers_made + polite.offers_made <= 6  # no negotiation storm
    assert impolite.collisions >= 1 and polite.collisions >= 1  # the offers really collided
    assert call.a.connectionState == call.b.connectionState == "connected"
    last = call.transport(call.a).activeGeneration.number
    before = call.media_a.count(last)
    await wait_for(lambda: call.media_a.count(last) > before + 5, what="media after glare")
    impolite.task.cancel()
    polite.task.cancel()
    await call.close()


async def test_restart_from_disconnected_by_the_remote_side_recovers() -> None:
    slow_fail = DetectionConfig(consent_interval=0.2, disconnected_after=0.6, failed_after=30.0)
    call = await start_call(make_peer(slow_fail), make_peer(slow_fail))
    cut = PathCut()
    cut.apply_to(call.a)
    cut.apply_to(call.b)
    cut.active = True
    await wait_for(lambda: call.b.iceConnectionState == "disconnected", what="disconnected")
    call.b.restartIce()
    await negotiate(call.b, call.a)
    await wait_for(
        lambda: call.a.iceConnectionState == call.b.iceConnectionState == "connected",
        what="both completed",
    )
    assert call.states["b"][-3:] == ["disconnected", "checking", "connected"]
    await wait_for(lambda: call.media_a.count(1) > 5 and call.media_b.count(1) > 5, what="media")
    await call.close()


class OneWayCut(PathCut):
    """Drops only what the patched sockets send: the peer's media still gets in."""

    def _patch(self, protocol: Any) -> None:
        if id(protocol) in self._patched:
            return
        self._patched.add(id(protocol))
        outbound = protocol.transport.sendto

        def sendto(data: bytes, addr: Any = None) -> None:
            if self.active:
                self.dropped += 1
                return
            outbound(data, addr)

        protocol.transport.sendto = sendto


async def test_default_detection_notices_a_one_way_cut_while_media_still_arrives() -> None:
    """RFC 7675: consent is the remote answering OUR checks. b's media still reaches a but
    nothing of a's gets out, so a must not stay 'completed' (a NAT binding expiry looks like
    this at the side whose packets no longer reach it)."""
    default = DetectionConfig(consent_interval=0.2, disconnected_after=0.6, failed_after=30.0)
    lenient = DetectionConfig(
        consent_interval=0.2, disconnected_after=0.6, failed_after=30.0, consent_only=False
    )
    call = await start_call(make_peer(default), make_peer(lenient))
    cut = OneWayCut()
    cut.apply_to(call.a)  # a can receive but not send
    cut.active = True
    await wait_for(lambda: call.a.iceConnectionState == "disconnected", what="a disconnected")
    await wait_for(lambda: call.b.iceConnectionState == "disconnected", what="b hears nothing")
    cut.active = False
    await wait_for(
        lambda: call.a.iceConnectionState == call.b.iceConnectionState == "connected",
        what="both back",
    )
    await call.close()
