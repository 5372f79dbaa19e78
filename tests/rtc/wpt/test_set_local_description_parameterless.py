"""Port of web-platform-tests webrtc/RTCPeerConnection-setLocalDescription-parameterless.https.html.

Docstrings are the WPT test names. W3C setLocalDescription() without a description applies
[[LastCreatedOffer]] / [[LastCreatedAnswer]] while it still describes the connection, else a
freshly created offer or answer.
"""

from __future__ import annotations

import pytest
from aiortc import RTCSessionDescription

from .harness import ROLLBACK, Peers, as_created, handshake_end_on_first, ufrags


async def test_in_stable_goes_to_have_local_offer(peers: Peers) -> None:
    """Parameterless SLD() in 'stable' goes to 'have-local-offer'"""
    pc = peers()
    await pc.setLocalDescription()
    assert pc.signalingState == "have-local-offer"


async def test_in_stable_sets_pending_local_description(peers: Peers) -> None:
    """Parameterless SLD() in 'stable' sets pendingLocalDescription"""
    pc = peers()
    await pc.setLocalDescription()
    assert pc.pendingLocalDescription is not None
    assert pc.pendingLocalDescription.type == "offer"
    assert pc.pendingLocalDescription.sdp == pc.localDescription.sdp


async def test_in_stable_assigns_transceiver_mid(peers: Peers) -> None:
    """Parameterless SLD() in 'stable' assigns transceiver.mid"""
    pc = peers()
    transceiver = pc.addTransceiver("audio")
    assert transceiver.mid is None
    await pc.setLocalDescription()
    assert transceiver.mid is not None


async def test_in_have_remote_offer_goes_to_stable(peers: Peers) -> None:
    """Parameterless SLD() in 'have-remote-offer' goes to 'stable'"""
    offerer, answerer = peers(), peers()
    offerer.addTransceiver("audio")
    await answerer.setRemoteDescription(await offerer.createOffer())
    await answerer.setLocalDescription()
    assert answerer.signalingState == "stable"


async def test_in_have_remote_offer_sets_current_local_description(peers: Peers) -> None:
    """Parameterless SLD() in 'have-remote-offer' sets currentLocalDescription"""
    offerer, answerer = peers(), peers()
    offerer.addTransceiver("audio")
    await answerer.setRemoteDescription(await offerer.createOffer())
    await answerer.setLocalDescription()
    assert answerer.currentLocalDescription is not None
    assert answerer.currentLocalDescription.type == "answer"


async def test_in_have_remote_offer_sets_transceiver_current_direction(peers: Peers) -> None:
    """Parameterless SLD() in 'have-remote-offer' sets transceiver.currentDirection"""
    offerer, answerer = peers(), peers()
    offerer.addTransceiver("audio")
    await answerer.setRemoteDescription(await offerer.createOffer())
    (transceiver,) = answerer.getTransceivers()
    assert transceiver.currentDirection is None
    await answerer.setLocalDescription()
    assert transceiver.currentDirection == "recvonly"


async def test_uses_last_created_offer_if_still_valid(peers: Peers) -> None:
    """Parameterless SLD() uses [[LastCreatedOffer]] if it is still valid"""
    pc = peers()
    pc.addTransceiver("audio")
    offer = await pc.createOffer()
    await pc.setLocalDescription()
    assert as_created(pc.localDescription.sdp) == as_created(offer.sdp)


async def test_uses_last_created_answer_if_still_valid(peers: Peers) -> None:
    """Parameterless SLD() uses [[LastCreatedAnswer]] if it is still valid"""
    offerer, answerer = peers(), peers()
    offerer.addTransceiver("audio")
    await answerer.setRemoteDescription(await offerer.createOffer())
    answer = await answerer.createAnswer()
    await answerer.setLocalDescription()
    assert as_created(answerer.localDescription.sdp) == as_created(answer.sdp)


async def test_uses_the_restart_offer_of_create_offer_ice_restart(peers: Peers) -> None:
    """Parameterless SLD() after createOffer({iceRestart: true}) applies that offer ([[LastCreatedOffer]]), new ICE credentials included"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await handshake_end_on_first(pc1, pc2)
    old = ufrags(pc1.localDescription)[0]
    offer = await pc1.createOffer(iceRestart=True)
    assert ufrags(offer)[0] != old
    await pc1.setLocalDescription()
    assert as_created(pc1.localDescription.sdp) == as_created(offer.sdp)
    assert ufrags(pc1.localDescription)[0] == ufrags(offer)[0]
    await pc2.setRemoteDescription(pc1.localDescription)
    await pc2.setLocalDescription()
    await pc1.setRemoteDescription(pc2.localDescription)
    assert ufrags(pc1.currentLocalDescription)[0] != old


async def test_does_not_use_an_expired_last_created_offer(peers: Peers) -> None:
    """Parameterless SLD() does not use a [[LastCreatedOffer]] that no longer describes the connection"""
    pc = peers()
    pc.addTransceiver("audio")
    offer = await pc.createOffer()
    pc.addTransceiver("video")  # the offer no longer represents the connection
    await pc.setLocalDescription()
    assert as_created(pc.localDescription.sdp) != as_created(offer.sdp)
    assert pc.localDescription.sdp.count("m=") == 2


async def test_does_not_use_a_last_created_offer_after_rollback(peers: Peers) -> None:
    """Parameterless SLD() creates a new offer after the last created one was applied and rolled back"""
    pc = peers()
    pc.addTransceiver("audio")
    offer = await pc.createOffer()
    await pc.setLocalDescription(offer)
    await pc.setLocalDescription(ROLLBACK)
    await pc.setLocalDescription()
    assert pc.signalingState == "have-local-offer"
    assert pc.localDescription.sdp.count("m=audio") == 1


async def test_in_a_full_offer_answer_exchange_succeeds(peers: Peers) -> None:
    """Parameterless SLD() in a full O/A exchange succeeds"""
    offerer, answerer = peers(), peers()
    await offerer.setLocalDescription()
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription()
    await offerer.setRemoteDescription(answerer.localDescription)
    assert offerer.signalingState == answerer.signalingState == "stable"


async def test_parameterless_srd_rejects_with_type_error(peers: Peers) -> None:
    """Parameterless SRD() rejects with TypeError."""
    pc = peers()
    with pytest.raises(TypeError):
        await pc.setRemoteDescription()  # type: ignore[call-arg]


async def test_session_description_without_type_throws_type_error() -> None:
    """RTCSessionDescription constructed without type throws TypeError"""
    with pytest.raises(TypeError):
        RTCSessionDescription(sdp="")  # type: ignore[call-arg]
