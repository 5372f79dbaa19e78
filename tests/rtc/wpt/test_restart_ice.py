"""Port of web-platform-tests webrtc/RTCPeerConnection-restartIce.https.html.

Each test's docstring is the WPT test name; assertions keep the originals' meaning (their
messages in quotes). Ufrags are compared without printing them, as the original does.
"""

from __future__ import annotations

import pytest
from aiortc import RTCSessionDescription
from aiortc.rtcconfiguration import RTCBundlePolicy

from .harness import (
    Peers,
    assert_no_negotiationneeded,
    handshake_end_on_first,
    handshake_end_on_second,
    negotiationneeded,
    next_event,
    pwds,
    ufrags,
)

PARTIAL_RESTART_XFAIL = pytest.mark.xfail(
    reason=(
        "needs per-m-section ICE credentials under bundlePolicy max-compat: lab.rtc, like "
        "aiortc, gives every ICE transport of a peer connection the same ufrag/pwd and always "
        "offers a BUNDLE group that folds the m-sections onto one transport, so one m-section "
        "cannot restart while another keeps its credentials (Firefox also expects this to fail)"
    ),
    strict=True,
)


async def test_restart_ice_does_not_trigger_negotiation_ahead_of_initial_negotiation(
    peers: Peers,
) -> None:
    """restartIce() does not trigger negotiation ahead of initial negotiation"""
    pc1, _pc2 = peers(), peers()
    pc1.restartIce()
    await assert_no_negotiationneeded(pc1)
    pc1.addTransceiver("audio")
    await negotiationneeded(pc1)
    await assert_no_negotiationneeded(pc1)


async def test_restart_ice_has_no_effect_on_initial_negotiation(peers: Peers) -> None:
    """restartIce() has no effect on initial negotiation"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await negotiationneeded(pc1)
    pc1.restartIce()
    await handshake_end_on_first(pc1, pc2)
    await assert_no_negotiationneeded(pc1)


async def test_restart_ice_fires_negotiationneeded_after_initial_negotiation(peers: Peers) -> None:
    """restartIce() fires negotiationneeded after initial negotiation"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await negotiationneeded(pc1)
    await handshake_end_on_first(pc1, pc2)
    pc1.restartIce()
    await negotiationneeded(pc1)


async def test_restart_ice_causes_fresh_ufrags(peers: Peers) -> None:
    """restartIce() causes fresh ufrags"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await handshake_end_on_first(pc1, pc2)

    old1, old2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]
    await handshake_end_on_first(pc1, pc2)
    assert ufrags(pc1.localDescription)[0] == old1, "control 1"
    assert ufrags(pc2.localDescription)[0] == old2, "control 2"

    pc1.restartIce()
    await negotiationneeded(pc1)
    await handshake_end_on_first(pc1, pc2)
    new1, new2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]
    assert new1 != old1, "ufrag 1 changed"
    assert new1 != old2, "ufrag 2 changed"
    await assert_no_negotiationneeded(pc1)

    await handshake_end_on_first(pc1, pc2)
    assert ufrags(pc1.localDescription)[0] == new1, "Unchanged 1"
    assert ufrags(pc2.localDescription)[0] == new2, "Unchanged 2"


async def test_restart_ice_works_in_have_local_offer(peers: Peers) -> None:
    """restartIce() works in have-local-offer"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await negotiationneeded(pc1)
    await handshake_end_on_first(pc1, pc2)
    old1, old2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]

    await pc1.setLocalDescription(await pc1.createOffer())
    pc1.restartIce()
    await pc2.setRemoteDescription(pc1.localDescription)
    await pc2.setLocalDescription(await pc2.createAnswer())
    pending = next_event(pc1, "negotiationneeded")
    await pc1.setRemoteDescription(pc2.localDescription)
    assert ufrags(pc1.localDescription)[0] == old1, "Unchanged 1"
    assert ufrags(pc2.localDescription)[0] == old2, "Unchanged 2"
    await negotiationneeded(pc1, pending)
    await handshake_end_on_first(pc1, pc2)
    new1 = ufrags(pc1.localDescription)[0]
    assert new1 != old1, "ufrag 1 changed"
    assert new1 != old2, "ufrag 2 changed"
    await assert_no_negotiationneeded(pc1)


async def test_restart_ice_works_in_initial_have_local_offer(peers: Peers) -> None:
    """restartIce() works in initial have-local-offer"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await negotiationneeded(pc1)
    await pc1.setLocalDescription(await pc1.createOffer())
    pc1.restartIce()
    await pc2.setRemoteDescription(pc1.localDescription)
    await pc2.setLocalDescription(await pc2.createAnswer())
    pending = next_event(pc1, "negotiationneeded")
    await pc1.setRemoteDescription(pc2.localDescription)
    old1, old2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]
    await negotiationneeded(pc1, pending)
    await handshake_end_on_first(pc1, pc2)
    new1 = ufrags(pc1.localDescription)[0]
    assert new1 != old1, "ufrag 1 changed"
    assert new1 != old2, "ufrag 2 changed"
    await assert_no_negotiationneeded(pc1)


async def test_restart_ice_works_in_have_remote_offer(peers: Peers) -> None:
    """restartIce() works in have-remote-offer"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await negotiationneeded(pc1)
    await handshake_end_on_first(pc1, pc2)
    old1, old2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]

    await pc2.setLocalDescription(await pc2.createOffer())
    await pc1.setRemoteDescription(pc2.localDescription)
    pc1.restartIce()
    await pc2.setRemoteDescription(await pc1.createAnswer())
    pending = next_event(pc1, "negotiationneeded")
    await pc1.setLocalDescription(pc2.remoteDescription)  # End on pc1. No race
    assert ufrags(pc1.localDescription)[0] == old1, "Unchanged 1"
    assert ufrags(pc2.localDescription)[0] == old2, "Unchanged 2"
    await negotiationneeded(pc1, pending)
    await handshake_end_on_first(pc1, pc2)
    new1 = ufrags(pc1.localDescription)[0]
    assert new1 != old1, "ufrag 1 changed"
    assert new1 != old2, "ufrag 2 changed"
    await assert_no_negotiationneeded(pc1)


async def test_restart_ice_does_nothing_in_initial_have_remote_offer(peers: Peers) -> None:
    """restartIce() does nothing in initial have-remote-offer"""
    pc1, pc2 = peers(), peers()
    pc2.addTransceiver("audio")
    await pc2.setLocalDescription(await pc2.createOffer())
    await pc1.setRemoteDescription(pc2.localDescription)
    pc1.restartIce()
    await pc2.setRemoteDescription(await pc1.createAnswer())
    await pc1.setLocalDescription(pc2.remoteDescription)  # End on pc1. No race
    await assert_no_negotiationneeded(pc1)


async def test_restart_ice_survives_remote_offer(peers: Peers) -> None:
    """restartIce() survives remote offer"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await negotiationneeded(pc1)
    await handshake_end_on_first(pc1, pc2)
    old1, old2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]

    pc1.restartIce()
    await negotiationneeded(pc1)
    pending = next_event(pc1, "negotiationneeded")
    await handshake_end_on_second(pc2, pc1)
    assert ufrags(pc1.localDescription)[0] == old1, "nothing yet 1"
    assert ufrags(pc2.localDescription)[0] == old2, "nothing yet 2"
    await negotiationneeded(pc1, pending)
    await handshake_end_on_first(pc1, pc2)
    new1, new2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]
    assert new1 != old1, "ufrag 1 changed"
    assert new2 != old2, "ufrag 2 changed"
    await assert_no_negotiationneeded(pc1)


async def test_restart_ice_is_satisfied_by_remote_ice_restart(peers: Peers) -> None:
    """restartIce() is satisfied by remote ICE restart"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await negotiationneeded(pc1)
    await handshake_end_on_first(pc1, pc2)
    old1, old2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]

    pc1.restartIce()
    pc2.restartIce()
    await negotiationneeded(pc1)
    await handshake_end_on_second(pc2, pc1)
    new1, new2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]
    assert new1 != old1, "ufrag 1 changed"
    assert new1 != old2, "ufrag 2 changed"
    await assert_no_negotiationneeded(pc1)

    await handshake_end_on_first(pc1, pc2)
    assert ufrags(pc1.localDescription)[0] == new1, "Unchanged 1"
    assert ufrags(pc2.localDescription)[0] == new2, "Unchanged 2"
    await assert_no_negotiationneeded(pc1)


async def test_restart_ice_trumps_ice_restart_false(peers: Peers) -> None:
    """restartIce() trumps {iceRestart: false}"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await negotiationneeded(pc1)
    await handshake_end_on_first(pc1, pc2)
    old1, old2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]

    pc1.restartIce()
    await negotiationneeded(pc1)
    await pc1.setLocalDescription(await pc1.createOffer(iceRestart=False))
    await pc2.setRemoteDescription(pc1.localDescription)
    await pc2.setLocalDescription(await pc2.createAnswer())
    await pc1.setRemoteDescription(pc2.localDescription)
    new1 = ufrags(pc1.localDescription)[0]
    assert new1 != old1, "ufrag 1 changed"
    assert new1 != old2, "ufrag 2 changed"
    await assert_no_negotiationneeded(pc1)


async def test_restart_ice_survives_rollback(peers: Peers) -> None:
    """restartIce() survives rollback"""
    pc1, pc2 = peers(), peers()
    pc1.addTransceiver("audio")
    await negotiationneeded(pc1)
    await handshake_end_on_first(pc1, pc2)
    old1, old2 = ufrags(pc1.localDescription)[0], ufrags(pc2.localDescription)[0]

    pc1.restartIce()
    await negotiationneeded(pc1)
    await pc1.setLocalDescription(await pc1.createOffer())
    pending = next_event(pc1, "negotiationneeded")
    await pc1.setLocalDescription(RTCSessionDescription(sdp="", type="rollback"))
    await negotiationneeded(pc1, pending)
    await handshake_end_on_first(pc1, pc2)
    new1 = ufrags(pc1.localDescription)[0]
    assert new1 != old1, "ufrag 1 changed"
    assert new1 != old2, "ufrag 2 changed"
    await assert_no_negotiationneeded(pc1)


@PARTIAL_RESTART_XFAIL
async def test_restart_ice_survives_remote_offer_containing_partial_restart(peers: Peers) -> None:
    """restartIce() survives remote offer containing partial restart"""
    pc1 = peers(RTCBundlePolicy.MAX_COMPAT)
    pc2 = peers(RTCBundlePolicy.MAX_COMPAT)
    pc1.addTransceiver("audio")
    pc1.addTransceiver("video")
    await negotiationneeded(pc1)
    await handshake_end_on_first(pc1, pc2)
    old_ufrags1 = ufrags(pc1.localDescription)
    old_ufrags2 = ufrags(pc2.localDescription)
    old_pwds2 = pwds(pc2.localDescription)

    pc1.restartIce()
    await negotiationneeded(pc1)

    # engineer a partial ICE restart from pc2: restore the first m-section's old ufrag and pwd
    pc2.restartIce()
    await pc2.setLocalDescription(await pc2.createOffer())
    sdp = pc2.localDescription.sdp
    sdp = sdp.replace(ufrags(pc2.localDescription)[0], old_ufrags2[0], 1)
    sdp = sdp.replace(pwds(pc2.localDescription)[0], old_pwds2[0], 1)
    partial = RTCSessionDescription(sdp=sdp, type="offer")
    assert ufrags(partial)[0] == old_ufrags2[0], "control ufrag match"
    assert pwds(partial)[0] == old_pwds2[0], "control pwd match"
    assert ufrags(partial)[1] != old_ufrags2[1], "control ufrag non-match"
    assert pwds(partial)[1] != old_pwds2[1], "control pwd non-match"
    await pc1.setRemoteDescription(partial)

    pending = next_event(pc1, "negotiationneeded")
    await pc1.setLocalDescription(await pc1.createAnswer())
    new_ufrags1 = ufrags(pc1.localDescription)
    assert new_ufrags1[0] == old_ufrags1[0], "Unchanged 1"
    assert new_ufrags1[1] != old_ufrags1[1], "Restarted 2"
    await negotiationneeded(pc1, pending)
    await pc1.setLocalDescription(await pc1.createOffer())
    newest_ufrags1 = ufrags(pc1.localDescription)
    assert newest_ufrags1[0] != old_ufrags1[0], "Restarted 1"
    assert newest_ufrags1[1] != old_ufrags1[1], "Restarted 2"
    await assert_no_negotiationneeded(pc1)
