"""Port of web-platform-tests webrtc/RTCPeerConnection-setLocalDescription-rollback.html.

Docstrings are the WPT test names. W3C "set the session description": a local rollback is
valid in have-local-offer (and have-local-pranswer, which aiortc lacks); anywhere else it
rejects with InvalidStateError and changes nothing.
"""

from __future__ import annotations

import pytest
from aiortc import RTCSessionDescription
from aiortc.exceptions import InvalidStateError

from .harness import ROLLBACK, Peers, assert_rollback_to_stable, generate_offer


async def test_rollback_from_have_local_offer_resets_to_stable(peers: Peers) -> None:
    """setLocalDescription(rollback) from have-local-offer state should reset back to stable state"""
    pc = peers()
    await assert_rollback_to_stable(pc, "local", await pc.createOffer())


async def test_rollback_from_stable_rejects(peers: Peers) -> None:
    """setLocalDescription(rollback) from stable state should reject with InvalidStateError"""
    pc = peers()
    with pytest.raises(InvalidStateError):
        await pc.setLocalDescription(ROLLBACK)


async def test_rollback_after_setting_answer_rejects(peers: Peers) -> None:
    """setLocalDescription(rollback) after setting answer description should reject with InvalidStateError"""
    pc = peers()
    await pc.setRemoteDescription(await generate_offer(audio=True))
    await pc.setLocalDescription(await pc.createAnswer())
    with pytest.raises(InvalidStateError):
        await pc.setLocalDescription(ROLLBACK)


async def test_rollback_ignores_invalid_sdp(peers: Peers) -> None:
    """setLocalDescription(rollback) should ignore invalid sdp content and succeed"""
    pc = peers()
    await pc.setLocalDescription(await pc.createOffer())
    await pc.setLocalDescription(RTCSessionDescription(sdp="!<Invalid SDP Content>;", type="rollback"))
    assert pc.signalingState == "stable"


async def test_rollback_in_have_remote_offer_rejects(peers: Peers) -> None:
    """setLocalDescription(rollback) in have-remote-offer should reject with InvalidStateError (the remote offer is rolled back by setRemoteDescription)"""
    pc = peers()
    await pc.setRemoteDescription(await generate_offer(audio=True))
    with pytest.raises(InvalidStateError):
        await pc.setLocalDescription(ROLLBACK)
    assert pc.signalingState == "have-remote-offer"
    assert pc.pendingRemoteDescription is not None, "the remote offer is not discarded"
    await pc.setLocalDescription(await pc.createAnswer())
    assert pc.signalingState == "stable"


async def test_rollback_updates_state_before_the_event(peers: Peers) -> None:
    """setLocalDescription(rollback) should update internal state with a queued task, in the right order"""
    pc = peers()
    await pc.setLocalDescription(await pc.createOffer())
    seen: list[tuple[str, object]] = []
    pc.on(
        "signalingstatechange",
        lambda: seen.append((pc.signalingState, pc.pendingLocalDescription)),
    )
    await pc.setLocalDescription(ROLLBACK)
    assert seen == [("stable", None)]


async def test_local_offer_created_before_remote_offer_then_rollback_is_usable(
    peers: Peers,
) -> None:
    """local offer created before setRemoteDescription(remote offer) then rollback should still be usable"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    pc2.addTransceiver("audio")
    offer1 = await pc1.createOffer()
    await pc2.setLocalDescription(await pc2.createOffer())
    await pc1.setRemoteDescription(pc2.localDescription)
    await pc1.setRemoteDescription(ROLLBACK)
    await pc1.setLocalDescription(offer1)
    assert pc1.signalingState == "have-local-offer"


async def test_rollback_of_local_offer_resets_transceiver_mid(peers: Peers) -> None:
    """rollback of a local offer should reset the transceiver's mid (JSEP 4.1.8.2: the m-section association is undone)"""
    pc = peers()
    transceiver = pc.addTransceiver("audio")
    await pc.setLocalDescription(await pc.createOffer())
    assert transceiver.mid is not None
    await pc.setLocalDescription(ROLLBACK)
    assert transceiver.mid is None
    assert pc.getTransceivers() == [transceiver], "the app's transceiver stays"
