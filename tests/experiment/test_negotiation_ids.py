"""The aiortc agent's negotiation ids: an offer's id travels in its signaling message and comes
back in the answer, so lab.experiment.metrics can pair each answer with its offer."""

from __future__ import annotations

from typing import Any

from lab.runtime.agent.session import GenerationChannel

OFFER_SDP = "v=0\r\na=ice-ufrag:AAAA\r\n"
ANSWER_SDP = "v=0\r\na=ice-ufrag:BBBB\r\n"


class Wire:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def test_offer_id_is_carried_and_echoed() -> None:
    offerer_wire, answerer_wire = Wire(), Wire()
    reported: list[dict[str, Any]] = []
    offerer = GenerationChannel(offerer_wire, 0, reported.append)
    answerer = GenerationChannel(answerer_wire, 0, reported.append)

    offerer.send({"description": {"type": "offer", "sdp": OFFER_SDP}, "nid": "s1:7"})
    on_wire = offerer_wire.sent[-1]
    assert on_wire["negotiation_id"] == "s1:7" and reported[-1]["negotiation_id"] == "s1:7"

    answerer.deliver(on_wire)
    assert answerer.applied("offer", "AAAA") == "s1:7"
    answerer.send({"description": {"type": "answer", "sdp": ANSWER_SDP}, "nid": "s2:3"})
    answer = answerer_wire.sent[-1]
    assert answer["negotiation_id"] == "s1:7"

    offerer.deliver(answer)
    assert offerer.applied("answer", "BBBB") == "s1:7"
    # candidates carry no id; an offer without a message id still gets one
    offerer.send({"candidate": {"candidate": ""}})
    assert "negotiation_id" not in offerer_wire.sent[-1]
    offerer.send({"description": {"type": "offer", "sdp": OFFER_SDP}})
    assert offerer_wire.sent[-1]["negotiation_id"]
