"""negotiationneeded, setLocalDescription() without argument, rollback, legacy iceRestart."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCSessionDescription
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import AudioStreamTrack
from aiortc.sdp import SessionDescription, candidate_from_sdp

from .peers import make_peer, negotiate, start_call, wait_for

ROLLBACK = RTCSessionDescription(sdp="", type="rollback")


def ufrags(description: RTCSessionDescription) -> set[str]:
    return {m.ice.usernameFragment for m in SessionDescription.parse(description.sdp).media}


def counter(pc) -> list[int]:
    fired: list[int] = []
    pc.on("negotiationneeded", lambda: fired.append(1))
    return fired


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_negotiationneeded_is_queued_once_while_flag_is_set() -> None:
    pc = make_peer()
    fired = counter(pc)
    pc.addTrack(AudioStreamTrack())
    pc.createDataChannel("chat")
    assert fired == []  # queued, not synchronous
    await settle()
    assert len(fired) == 1
    pc.addTransceiver("video")
    await settle()
    assert len(fired) == 1  # the flag is still set: not refired
    await pc.close()


async def test_negotiationneeded_waits_for_stable_and_refires_after_answer() -> None:
    a, b = make_peer(), make_peer()
    fired = counter(a)
    a.addTrack(AudioStreamTrack())
    await settle()
    assert len(fired) == 1
    await a.setLocalDescription()
    a.addTransceiver("video")  # a change while 'have-local-offer': deferred
    await settle()
    assert len(fired) == 1
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)
    await settle()
    assert len(fired) == 2  # stable again and the video transceiver still needs negotiating
    await a.close()
    await b.close()


async def test_set_local_description_without_argument_makes_offer_and_answer() -> None:
    a, b = make_peer(), make_peer()
    a.addTrack(AudioStreamTrack())
    await a.setLocalDescription()
    assert a.localDescription.type == "offer"
    assert a.signalingState == "have-local-offer"
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    assert b.localDescription.type == "answer"
    assert b.signalingState == "stable"
    await a.close()
    await b.close()


async def test_restart_ice_refires_until_an_answer_drops_old_credentials() -> None:
    call = await start_call(make_peer(), make_peer())
    fired = counter(call.a)
    old = ufrags(call.a.localDescription)
    call.a.restartIce()
    await settle()
    assert len(fired) == 1
    # an offer that is rolled back leaves the restart pending: negotiationneeded refires
    await call.a.setLocalDescription()
    assert ufrags(call.a.localDescription).isdisjoint(old)
    await call.a.setLocalDescription(ROLLBACK)
    assert call.a.signalingState == "stable"
    assert ufrags(call.a.localDescription) == old
    await settle()
    assert len(fired) == 2
    await negotiate(call.a, call.b)
    await settle()
    assert len(fired) == 2  # answered with new credentials: nothing left to negotiate
    assert ufrags(call.a.localDescription).isdisjoint(old)
    await call.close()


async def test_rollback_refires_negotiationneeded() -> None:
    a, b = make_peer(), make_peer()
    fired = counter(a)
    a.addTrack(AudioStreamTrack())
    await settle()
    await a.setLocalDescription()
    # a local offer is rolled back locally; a remote rollback has nothing to undo (W3C)
    with pytest.raises(InvalidStateError):
        await a.setRemoteDescription(ROLLBACK)
    assert a.signalingState == "have-local-offer"
    await a.setLocalDescription(ROLLBACK)
    assert a.signalingState == "stable"
    assert a.localDescription is None
    await settle()
    assert len(fired) == 2
    # the rolled-back offer can be made again and completes normally
    await negotiate(a, b)
    assert a.signalingState == b.signalingState == "stable"
    await a.close()
    await b.close()


async def test_rollback_of_a_remote_offer() -> None:
    call = await start_call(make_peer(), make_peer())
    remote_before = call.b.remoteDescription.sdp
    call.a.restartIce()
    await call.a.setLocalDescription()
    await call.b.setRemoteDescription(call.a.localDescription)
    assert call.b.signalingState == "have-remote-offer"
    await call.b.setRemoteDescription(ROLLBACK)
    assert call.b.signalingState == "stable"
    assert call.b.remoteDescription.sdp == remote_before
    (transport,) = call.b.getIceTransports()
    assert transport.pendingGeneration is None
    await call.close()


async def test_rollback_in_stable_is_rejected() -> None:
    pc = make_peer()
    with pytest.raises(Exception, match="rollback"):
        await pc.setRemoteDescription(ROLLBACK)
    await pc.close()


async def test_colliding_offer_rolls_back_implicitly() -> None:
    call = await start_call(make_peer(), make_peer())
    call.a.restartIce()
    call.b.restartIce()
    await call.a.setLocalDescription()
    await call.b.setLocalDescription()
    # b is polite: the offer arriving in have-local-offer rolls its own back
    await call.b.setRemoteDescription(call.a.localDescription)
    assert call.b.signalingState == "have-remote-offer"
    await call.b.setLocalDescription()
    await call.a.setRemoteDescription(call.b.localDescription)
    assert call.a.signalingState == call.b.signalingState == "stable"
    await wait_for(lambda: call.transport(call.a).activeGeneration.number >= 1, what="cut-over")
    await call.close()


async def test_legacy_ice_restart_option() -> None:
    call = await start_call(make_peer(), make_peer())
    current = ufrags(call.a.localDescription)
    plain = await call.a.createOffer()
    assert ufrags(plain) == current
    restart = await call.a.createOffer(iceRestart=True)
    assert ufrags(restart).isdisjoint(current)
    await call.a.setLocalDescription(restart)
    await call.b.setRemoteDescription(call.a.localDescription)
    await call.b.setLocalDescription()
    await call.a.setRemoteDescription(call.b.localDescription)
    await wait_for(lambda: call.transport(call.a).activeGeneration.number == 1, what="cut-over")
    await call.close()


async def test_candidates_of_an_old_generation_are_ignored_quietly() -> None:
    call = await start_call(make_peer(), make_peer())
    old_media = SessionDescription.parse(call.b.localDescription.sdp).media[0]
    old_candidate = old_media.ice_candidates[0]
    call.a.restartIce()
    await negotiate(call.a, call.b)
    await wait_for(lambda: call.transport(call.a).activeGeneration.number == 1, what="cut-over")
    # without a ufrag: the new generation already had end-of-candidates, nothing happens
    old_candidate.sdpMid = old_media.rtp.muxId
    await call.a.addIceCandidate(old_candidate)
    # with the old ufrag: recognised as an old generation's candidate and dropped
    tagged = candidate_from_sdp("candidate:1 1 udp 2130706431 127.0.0.1 9 typ host")
    tagged.sdpMid = old_media.rtp.muxId
    tagged.usernameFragment = old_media.ice.usernameFragment  # type: ignore[attr-defined]
    await call.a.addIceCandidate(tagged)
    remote = call.transport(call.a).activeGeneration.connection.remote_candidates
    assert all(c.port != 9 for c in remote)
    assert call.a.connectionState == "connected"
    await call.close()


async def test_reoffer_keeps_payload_types_and_extension_ids_the_remote_chose() -> None:
    # a browser-made first offer numbers things its own way (Chromium: opus 111, audio level 1)
    browserish, lab = make_peer(), make_peer()
    browserish.addTrack(AudioStreamTrack())
    lab.addTrack(AudioStreamTrack())
    offer = (await browserish.createOffer()).sdp
    offer = (
        offer.replace("a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid", "a=extmap:4 urn:x:mid")
        .replace("a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=extmap:1 urn:x:al")
        .replace("urn:x:mid", "urn:ietf:params:rtp-hdrext:sdes:mid")
        .replace("urn:x:al", "urn:ietf:params:rtp-hdrext:ssrc-audio-level")
        .replace("RTP/SAVPF 96 ", "RTP/SAVPF 111 ")
        .replace("a=rtpmap:96 opus", "a=rtpmap:111 opus")
    )
    await lab.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    await lab.setLocalDescription()
    reoffer = SessionDescription.parse((await lab.createOffer(iceRestart=True)).sdp).media[0]
    extensions = {e.uri.rsplit(":", 1)[-1]: e.id for e in reoffer.rtp.headerExtensions}
    assert extensions == {"mid": 4, "ssrc-audio-level": 1}
    assert reoffer.rtp.codecs[0].mimeType == "audio/opus"
    assert reoffer.rtp.codecs[0].payloadType == 111
    await browserish.close()
    await lab.close()


async def test_ice_restart_option_on_a_first_offer_is_a_plain_first_offer() -> None:
    a, b = make_peer(), make_peer()
    a.addTrack(AudioStreamTrack())
    b.addTrack(AudioStreamTrack())
    await a.setLocalDescription(await a.createOffer(iceRestart=True))
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)
    await wait_for(lambda: a.connectionState == b.connectionState == "connected", what="call")
    (transport,) = a.getIceTransports()
    assert transport.activeGeneration.number == 0
    await a.close()
    await b.close()
