"""A connection that never restarts looks and behaves like plain aiortc."""

from __future__ import annotations

import aiortc
import pytest
from aioice import ice as aioice_ice
from aiortc import RTCConfiguration
from aiortc.mediastreams import AudioStreamTrack

from .peers import make_peer, wait_for


def line_keys(sdp: str) -> list[str]:
    """The SDP's shape: each line's type and attribute name, without the random values."""
    keys = []
    for line in sdp.splitlines():
        kind, _, value = line.partition("=")
        if kind == "a":
            keys.append("a=" + value.split(":", 1)[0].split(" ", 1)[0])
        elif kind == "m":
            keys.append("m=" + " ".join(value.split(" ")[:1] + value.split(" ")[2:]))
        else:
            keys.append(kind + "=")
    return keys


def record(pc: aiortc.RTCPeerConnection) -> dict[str, list[str]]:
    log: dict[str, list[str]] = {"signaling": [], "gathering": [], "ice": [], "connection": []}
    pc.on("signalingstatechange", lambda: log["signaling"].append(pc.signalingState))
    pc.on("icegatheringstatechange", lambda: log["gathering"].append(pc.iceGatheringState))
    pc.on("iceconnectionstatechange", lambda: log["ice"].append(pc.iceConnectionState))
    pc.on("connectionstatechange", lambda: log["connection"].append(pc.connectionState))
    return log


async def run_call(a: aiortc.RTCPeerConnection, b: aiortc.RTCPeerConnection) -> dict[str, object]:
    logs = {"a": record(a), "b": record(b)}
    a.addTrack(AudioStreamTrack())
    b.addTrack(AudioStreamTrack())
    a.createDataChannel("chat")
    offer = await a.createOffer()
    await a.setLocalDescription(offer)
    await b.setRemoteDescription(a.localDescription)
    answer = await b.createAnswer()
    await b.setLocalDescription(answer)
    await a.setRemoteDescription(b.localDescription)
    await wait_for(lambda: a.connectionState == b.connectionState == "connected", what="connected")
    shapes = {
        "offer": line_keys(a.localDescription.sdp),
        "answer": line_keys(b.localDescription.sdp),
        "created offer": line_keys(offer.sdp),
        "created answer": line_keys(answer.sdp),
    }
    await a.close()
    await b.close()
    return {"shapes": shapes, "logs": logs}


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # plain aiortc enumerates interfaces; keep it on loopback like the lab peers
    monkeypatch.setattr(aioice_ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


async def test_offer_answer_and_states_match_plain_aiortc(loopback_only: None) -> None:
    config = RTCConfiguration(iceServers=[])
    plain = await run_call(aiortc.RTCPeerConnection(config), aiortc.RTCPeerConnection(config))
    lab = await run_call(make_peer(trickle=False), make_peer(trickle=False))
    assert lab["shapes"] == plain["shapes"]
    # the one intended difference: W3C calls a nominated, still-checked connection 'connected',
    # which aiortc reports as 'completed' (lab/rtc/README.md)
    for log in plain["logs"].values():
        log["ice"] = ["connected" if s == "completed" else s for s in log["ice"]]
    assert lab["logs"] == plain["logs"]


async def test_trickle_only_adds_the_ice_option_when_every_candidate_is_at_hand(
    loopback_only: None,
) -> None:
    """With no STUN/TURN server, host candidates are all there is: a trickling peer describes
    them all (and end-of-candidates), and differs from plain aiortc by a=ice-options only."""
    config = RTCConfiguration(iceServers=[])
    plain = await run_call(aiortc.RTCPeerConnection(config), aiortc.RTCPeerConnection(config))
    lab = await run_call(make_peer(), make_peer())
    for name, keys in lab["shapes"].items():  # type: ignore[attr-defined]
        assert keys.count("a=ice-options") == keys.count("a=mid"), name
        assert [k for k in keys if k != "a=ice-options"] == plain["shapes"][name], name  # type: ignore[index]
    for log in plain["logs"].values():  # W3C 'connected' for aiortc's 'completed', as above
        log["ice"] = ["connected" if s == "completed" else s for s in log["ice"]]
    assert lab["logs"] == plain["logs"]
