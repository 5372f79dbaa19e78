"""Bad descriptions raise the W3C exception and leave the connection usable.

W3C: text that is not SDP -> RTCError sdp-syntax-error (OperationError); a description type
that does not fit the signaling state -> InvalidStateError; SDP that is well-formed but
unusable -> InvalidAccessError; a media section nothing can be negotiated for -> OperationError.
"""

from __future__ import annotations

import re

import pytest
from aiortc import RTCSessionDescription
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError

from .peers import make_peer, negotiate, start_call, wait_for


def offer_of(sdp: str) -> RTCSessionDescription:
    return RTCSessionDescription(sdp=sdp, type="offer")


async def test_bad_input_in_an_established_call_changes_nothing() -> None:
    call = await start_call(make_peer(), make_peer())
    b = call.b
    remote, local = b.remoteDescription.sdp, b.localDescription.sdp
    good_offer = await call.a.createOffer()
    bad: list[tuple[RTCSessionDescription, type[Exception]]] = [
        (offer_of("!<Invalid SDP Content>;"), OperationError),
        (offer_of("v=0\r\nthis is not sdp\r\n"), OperationError),
        (offer_of(good_offer.sdp.replace("m=audio ", "m=audio notaport ", 1)), OperationError),
        (offer_of(re.sub(r"a=ice-pwd:\S+\r\n", "", good_offer.sdp)), InvalidAccessError),
        (offer_of(good_offer.sdp.replace("a=rtcp-mux\r\n", "")), InvalidAccessError),
        (RTCSessionDescription(sdp=good_offer.sdp, type="answer"), InvalidStateError),
        (RTCSessionDescription(sdp="", type="rollback"), InvalidStateError),
        # the audio m-line with a kind the mid never had
        (offer_of(good_offer.sdp.replace("m=audio ", "m=video ", 1)), InvalidAccessError),
    ]
    for description, error in bad:
        with pytest.raises(error):
            await b.setRemoteDescription(description)
        assert b.signalingState == "stable", description.sdp
        assert b.remoteDescription.sdp == remote and b.localDescription.sdp == local
    with pytest.raises(InvalidStateError):
        await b.setLocalDescription(RTCSessionDescription(sdp=local, type="answer"))
    with pytest.raises(OperationError):
        await b.setLocalDescription(offer_of("garbage"))
    assert b.signalingState == "stable"
    assert len(b.getTransceivers()) == 1

    # still usable: a restart negotiates and the data channel still carries messages
    call.a.restartIce()
    await negotiate(call.a, call.b)
    call.channel.send("after bad input")
    await wait_for(lambda: "after bad input" in call.received, what="message after bad input")
    await call.close()


async def test_bad_offer_while_offering_keeps_our_offer() -> None:
    a = make_peer()
    a.addTransceiver("audio")
    await a.setLocalDescription()
    with pytest.raises(OperationError):
        await a.setRemoteDescription(offer_of("!<Invalid SDP Content>;"))
    assert a.signalingState == "have-local-offer"  # checked before the implicit rollback
    b = make_peer()
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)
    assert a.signalingState == "stable"
    await a.close()
    await b.close()


async def test_offer_with_nothing_negotiable_is_undone_whole() -> None:
    a, b = make_peer(), make_peer()
    a.addTransceiver("audio")
    await a.setLocalDescription()
    # no codec b knows: aiortc fails part-way through applying it (transceiver already made)
    unknown = re.sub(r"(m=audio \d+ UDP/TLS/RTP/SAVPF) [\d ]+", r"\1 120", a.localDescription.sdp)
    unknown = re.sub(r"a=rtpmap:\d+ [^\r]+\r\n", "", unknown) + "a=rtpmap:120 nocodec/8000\r\n"
    with pytest.raises(OperationError):
        await b.setRemoteDescription(offer_of(unknown))
    assert b.signalingState == "stable"
    assert b.getTransceivers() == []
    assert b.remoteDescription is None
    await negotiate(a, b)  # the real offer still goes through
    assert len(b.getTransceivers()) == 1
    await a.close()
    await b.close()


async def test_answer_not_matching_the_offer_is_refused() -> None:
    a, b = make_peer(), make_peer()
    a.addTransceiver("audio")
    a.createDataChannel("x")
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    answer = b.localDescription.sdp
    truncated = answer[: answer.index("m=application")]
    with pytest.raises(InvalidAccessError):
        await a.setRemoteDescription(RTCSessionDescription(sdp=truncated, type="answer"))
    assert a.signalingState == "have-local-offer"
    await a.setRemoteDescription(b.localDescription)
    assert a.signalingState == "stable"
    await a.close()
    await b.close()
