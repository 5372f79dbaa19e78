"""Trickle ICE, paced checks, media through an outage, continual gathering (issue 13).

Two lab.rtc peers in one process on loopback; the STUN server is a small in-process responder
that can be silenced (no NAT runs in-process, so its srflx candidates equal the host ones).
Nothing here asserts a time: each test asserts what happened, in order.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aioice import stun
from aioice.ice import CandidatePair
from aiortc import RTCConfiguration, RTCIceServer

from lab.rtc import DetectionConfig, IceOptions, RTCPeerConnection
from lab.rtc.ice_connection import LabIceConnection, PacedRequest

from .peers import FAST, LOOPBACK, PathCut, cut_generation, make_peer, negotiate, start_call, wait_for
from .test_gathering_during_outage import StunResponder, candidate_types


async def stun_server() -> tuple[Any, StunResponder, int]:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(StunResponder, local_addr=("127.0.0.1", 0))
    return transport, server, transport.get_extra_info("sockname")[1]


def stun_peer(port: int, trickle: bool = True) -> RTCPeerConnection:
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[RTCIceServer(urls=f"stun:127.0.0.1:{port}")]),
        detection=FAST,
        ice=IceOptions(host_addresses=LOOPBACK, use_ipv6=False, trickle=trickle),
    )


def record_candidates(pc: RTCPeerConnection) -> list[Any]:
    seen: list[Any] = []
    pc.on("icecandidate", lambda candidate=None: seen.append(candidate))
    return seen


async def test_offer_leaves_before_the_stun_server_answers_and_the_rest_trickles() -> None:
    transport, server, port = await stun_server()
    server.outage = True
    pc = stun_peer(port)
    try:
        pc.addTransceiver("audio")
        trickled = record_candidates(pc)
        await pc.setLocalDescription()
        offer = pc.localDescription.sdp
        # it left with its host candidate, while the server was still silent
        assert candidate_types(offer) == {"host"}
        assert "a=end-of-candidates" not in offer
        assert "a=ice-options:trickle" in offer
        assert pc.iceGatheringState == "gathering"
        assert server.answered == 0
        server.outage = False
        await wait_for(lambda: None in trickled, what="end-of-candidates")
        ufrag = pc.getIceTransports()[0].iceGatherer.getLocalParameters().usernameFragment
        kinds = [c.type for c in trickled if c is not None]
        assert kinds == ["srflx"]
        assert all(c.usernameFragment == ufrag and c.sdpMid is not None for c in trickled if c)
        assert trickled[-1] is None  # end-of-candidates comes last
        assert pc.iceGatheringState == "complete"
        # W3C: localDescription now names every candidate gathered, and the end
        assert candidate_types(pc.localDescription.sdp) == {"host", "srflx"}
        assert "a=end-of-candidates" in pc.localDescription.sdp
    finally:
        await pc.close()
        transport.close()


async def test_restart_offer_leaves_at_once_and_the_call_moves_with_trickled_candidates() -> None:
    transport, server, port = await stun_server()
    call = await start_call(stun_peer(port), stun_peer(port))
    try:
        trickled = record_candidates(call.a)
        server.outage = True
        call.a.restartIce()
        await negotiate(call.a, call.b)  # did not wait for the silent server
        assert "a=end-of-candidates" not in call.a.localDescription.sdp
        ice = call.transport(call.a)
        await wait_for(lambda: ice.activeGeneration.number == 1, what="cut over to generation 1")
        server.outage = False
        new = ice.activeGeneration
        await wait_for(lambda: new.gather_state == "completed", what="generation 1 gathered")
        # its srflx candidate followed by trickle, named with the new generation's ufrag, and
        # reached the other side (on loopback it has the host's address, so aioice pairs it
        # with nothing new)
        await wait_for(lambda: None in trickled, what="end-of-candidates of generation 1")
        srflx = [c for c in trickled if c is not None and c.type == "srflx"]
        assert [c.usernameFragment for c in srflx] == [new.local.usernameFragment]
        await wait_for(lambda: "typ srflx" in call.b.remoteDescription.sdp, what="srflx at b")
        assert call.transport(call.a).restarts == 1
    finally:
        await call.close()
        transport.close()


async def test_answer_to_a_peer_that_does_not_trickle_names_every_candidate() -> None:
    transport, server, port = await stun_server()
    plain_app = stun_peer(port, trickle=False)
    trickling = stun_peer(port)
    try:
        plain_app.addTransceiver("audio")
        await plain_app.setLocalDescription()
        assert "a=ice-options:trickle" not in plain_app.localDescription.sdp
        assert candidate_types(plain_app.localDescription.sdp) == {"host", "srflx"}
        await trickling.setRemoteDescription(plain_app.localDescription)
        assert trickling.canTrickleIceCandidates is False
        await trickling.setLocalDescription()
        answer = trickling.localDescription.sdp
        assert candidate_types(answer) == {"host", "srflx"}
        assert "a=end-of-candidates" in answer
        await plain_app.setRemoteDescription(trickling.localDescription)
        assert plain_app.canTrickleIceCandidates is True
        await wait_for(
            lambda: plain_app.connectionState == trickling.connectionState == "connected",
            what="connected",
        )
    finally:
        await plain_app.close()
        await trickling.close()
        transport.close()


class FakeProtocol:
    """Records the STUN requests a PacedRequest sends; answers the n-th one."""

    def __init__(self, answer_on: int | None) -> None:
        self.transactions: dict[bytes, Any] = {}
        self.sent: list[bytes] = []
        self.answer_on = answer_on

    def send_stun(self, message: stun.Message, addr: Any) -> None:
        self.sent.append(bytes(message))
        if self.answer_on is not None and len(self.sent) == self.answer_on:
            response = stun.Message(
                message_method=stun.Method.BINDING,
                message_class=stun.Class.RESPONSE,
                transaction_id=message.transaction_id,
            )
            transaction = self.transactions[message.transaction_id]
            asyncio.get_running_loop().call_soon(transaction.response_received, response, addr)


def binding_request() -> stun.Message:
    return stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)


async def test_a_check_is_resent_at_a_fixed_interval_until_answered() -> None:
    protocol = FakeProtocol(answer_on=4)
    intervals: list[float] = []

    def interval() -> float:
        intervals.append(0.005)
        return 0.005

    request = PacedRequest(protocol, binding_request(), ("127.0.0.1", 9), None, interval, 30.0)  # type: ignore[arg-type]
    response, _ = await request.run()
    assert response.message_class == stun.Class.RESPONSE
    # the same request, sent again three times at the same interval (no doubling RTO)
    assert len(protocol.sent) == 4 and len(set(protocol.sent)) == 1
    assert set(intervals) == {0.005}
    assert protocol.transactions == {}


async def test_a_triggered_check_goes_out_at_once_and_an_unanswered_one_times_out() -> None:
    protocol = FakeProtocol(answer_on=None)
    request = PacedRequest(protocol, binding_request(), ("127.0.0.1", 9), None, lambda: 60.0, 0.3)  # type: ignore[arg-type]
    running = asyncio.ensure_future(request.run())
    await asyncio.sleep(0)
    assert len(protocol.sent) == 1
    request.send_now()  # an incoming check on this pair: answer it with our check now
    assert len(protocol.sent) == 2
    try:
        await running
    except stun.TransactionTimeout:
        pass
    else:
        raise AssertionError("an unanswered check must time out")
    assert protocol.transactions == {}


def test_pair_interval_is_fixed_and_bounded_by_ta_pacing() -> None:
    connection = LabIceConnection(
        generation=0, host_addresses=LOOPBACK, consent_interval=1.0, ice_controlling=True,
        check_interval=0.048, check_pacing=0.02,
    )

    class Pair:
        def __init__(self, state: Any) -> None:
            self.state = state

    connection._check_list = [Pair(CandidatePair.State.IN_PROGRESS)]  # type: ignore[list-item]
    assert connection._lab_pair_interval() == 0.048
    connection._check_list = [Pair(CandidatePair.State.IN_PROGRESS) for _ in range(5)]  # type: ignore[misc]
    assert abs(connection._lab_pair_interval() - 0.1) < 1e-9  # Ta x 5 pairs in progress


def test_interval_options_are_validated() -> None:
    for bad in ({"check_interval": 0}, {"check_timeout": -1}, {"candidate_pool_size": 3}):
        try:
            IceOptions(**bad)  # type: ignore[arg-type]
        except ValueError as exc:
            assert next(iter(bad)) in str(exc)
        else:
            raise AssertionError(f"{bad} accepted")
    try:
        DetectionConfig(consent_retransmit_interval=0)
    except ValueError as exc:
        assert "consent_retransmit_interval" in str(exc)
    else:
        raise AssertionError("consent_retransmit_interval=0 accepted")


async def test_media_keeps_going_while_failed_and_the_path_returning_reconnects_without_restart() -> None:
    call = await start_call(make_peer(), make_peer())
    cut = PathCut()
    cut.apply_to(call.a)
    cut.apply_to(call.b)
    ice = call.transport(call.a)
    dropped_before = ice.dropped_sends
    cut.active = True
    await wait_for(lambda: call.a.iceConnectionState == "failed", what="failed")
    sent_into_the_cut = cut.dropped
    await wait_for(lambda: cut.dropped > sent_into_the_cut + 20, what="packets still sent")
    assert ice.dropped_sends == dropped_before  # the transport itself dropped nothing
    received = call.media_b.count(0)
    cut.active = False
    await wait_for(lambda: call.media_b.count(0) > received + 5, what="media on the old pair")
    await wait_for(lambda: call.a.iceConnectionState == "connected", what="a back to connected")
    await wait_for(lambda: call.b.iceConnectionState == "connected", what="b back to connected")
    assert ice.restarts == 0 and ice.activeGeneration.number == 0
    assert call.states["a"][-2:] == ["failed", "connected"]
    await call.close()


async def test_continual_gathering_moves_the_call_to_a_new_address_without_restart() -> None:
    call = await start_call(make_peer(gather_continually=True), make_peer(gather_continually=True))
    a, b = call.transport(call.a), call.transport(call.b)
    changes: list[Any] = []
    call.a.on("selectedcandidatepairchange", changes.append)
    trickled = record_candidates(call.a)
    # a new interface: 127.0.0.2 appears next to 127.0.0.1
    await a.update_addresses(["127.0.0.1", "127.0.0.2"])
    assert [c.ip for c in trickled if c is not None] == ["127.0.0.2"]
    assert trickled[0].usernameFragment == a.activeGeneration.local.usernameFragment
    await wait_for(lambda: any(c.pair.local_address[0] == "127.0.0.2" for c in changes),
                   what="a pair on the new address selected")
    # the old interface vanishes: its candidates and pairs go at once
    await a.update_addresses(["127.0.0.2"])
    connection = a.activeGeneration.connection
    assert {c.host for c in connection.local_candidates} == {"127.0.0.2"}
    assert all(p.local_candidate.host == "127.0.0.2" for p in connection._check_list)
    before = call.media_b.count(0)
    await wait_for(lambda: call.media_b.count(0) > before + 10, what="media over the new address")
    assert [e.remote_address[0] for e in call.media_b.events[-5:]] == ["127.0.0.2"] * 5
    assert a.restarts == b.restarts == 0
    assert a.activeGeneration.number == b.activeGeneration.number == 0
    await call.close()


async def test_candidate_pool_gives_a_restart_a_generation_gathered_in_advance() -> None:
    call = await start_call(make_peer(candidate_pool_size=1), make_peer())
    ice = call.transport(call.a)
    await wait_for(lambda: ice._pool is not None and ice._pool.gather_state == "completed",
                   what="a pooled generation gathered")
    pooled = ice._pool
    call.a.restartIce()
    await negotiate(call.a, call.b)
    # the restart offer described the pooled generation, every candidate and the end at once
    assert ice.iceGatherer.described is pooled and pooled.number == 1
    assert "a=end-of-candidates" in call.a.localDescription.sdp
    await wait_for(lambda: ice.activeGeneration is pooled, what="cut over to the pooled generation")
    await wait_for(lambda: ice._pool is not None and ice._pool is not pooled, what="pool refilled")
    await call.close()
    assert ice._pool is None


async def test_the_pool_is_gathered_again_when_the_path_breaks_or_the_addresses_change() -> None:
    call = await start_call(make_peer(candidate_pool_size=1), make_peer())
    ice = call.transport(call.a)
    await wait_for(lambda: ice._pool is not None, what="a pooled generation")
    first = ice._pool
    # the same options again (as the agent sets them before every restart): the pool stays
    call.a.setIceOptions(call.a.iceOptions)
    cut = PathCut()
    cut.apply_to(call.a)
    cut.apply_to(call.b)
    cut.active = True
    await wait_for(lambda: call.a.iceConnectionState == "disconnected", what="disconnected")
    second = ice._pool
    assert second is not None and second is not first
    await wait_for(lambda: first.closed, what="the old pool closed")
    await ice.update_addresses(["127.0.0.1"])
    assert ice._pool is not None and ice._pool is not second
    await wait_for(lambda: second.closed, what="the second pool closed")
    cut.active = False
    await call.close()


async def test_a_restart_still_checking_gathers_on_an_address_that_appears() -> None:
    """The restart fired as the old network went: its generation's sockets lead nowhere
    (cut here); the new address that comes up meanwhile is gathered, trickled and carries it."""
    call = await start_call(make_peer(), make_peer())
    ice = call.transport(call.a)
    call.a.restartIce()
    await call.a.setLocalDescription()
    restart = ice.pendingGeneration
    assert restart is not None
    cut = PathCut()
    cut_generation(cut, restart)
    cut.active = True
    await call.b.setRemoteDescription(call.a.localDescription)
    await call.b.setLocalDescription()
    await call.a.setRemoteDescription(call.b.localDescription)
    await ice.update_addresses(["127.0.0.1", "127.0.0.2"])
    assert "127.0.0.2" in {c.host for c in restart.connection.local_candidates}
    await wait_for(lambda: ice.activeGeneration is restart, what="the restart connected")
    assert ice.getSelectedCandidatePair().local_address[0] == "127.0.0.2"
    # without gather_continually the active generation gathered nothing new
    assert ice.restarts == 1
    await call.close()


async def test_a_new_path_checked_before_connect_returns_is_not_cancelled_by_its_clean_up(
    monkeypatch: Any,
) -> None:
    """The generation is connected as soon as a pair is nominated; aioice's connect() learns it
    later (at its next pacing tick, much later on a busy loop) and then stops the check list's
    checks. A check continual gathering started meanwhile must survive that clean-up."""
    gate = asyncio.Event()
    held: list[LabIceConnection] = []
    connect = LabIceConnection.connect

    async def late_connect(self: LabIceConnection) -> None:
        get = self._check_list_state.get

        async def get_late() -> int:
            result = await get()
            held.append(self)
            await gate.wait()  # connect() resumes only when the test lets it
            return result

        self._check_list_state.get = get_late  # type: ignore[method-assign]
        await connect(self)

    monkeypatch.setattr(LabIceConnection, "connect", late_connect)
    call = await start_call(make_peer(gather_continually=True), make_peer(gather_continually=True))
    a = call.transport(call.a)
    connection = a.activeGeneration.connection
    await wait_for(lambda: connection in held, what="a's check list completed, connect() not returned")
    changes: list[Any] = []
    call.a.on("selectedcandidatepairchange", changes.append)
    await a.update_addresses(["127.0.0.1", "127.0.0.2"])
    (late,) = [p for p in connection._check_list if p.local_candidate.host == "127.0.0.2"]
    assert late.task is not None  # its check started at once
    gate.set()
    await wait_for(lambda: connection._query_consent_task is not None, what="connect() returned")
    await wait_for(lambda: any(c.pair.local_address[0] == "127.0.0.2" for c in changes),
                   what="the new path selected")
    assert a.restarts == 0
    await call.close()


async def test_continual_gathering_fails_over_when_the_selected_address_vanishes() -> None:
    """Standby: both addresses were up before the call. When the selected pair's address goes,
    the paths left are checked again at once (no restart) and announced again, so that the
    remote checks them too (behind a NAT its checks open the way for ours)."""
    both = ("127.0.0.1", "127.0.0.2")
    call = await start_call(make_peer(addresses=both, gather_continually=True),
                            make_peer(gather_continually=True))
    a, b = call.transport(call.a), call.transport(call.b)
    await wait_for(lambda: a.getSelectedCandidatePair() is not None, what="a selected pair")
    selected = a.getSelectedCandidatePair().local_address[0]
    other = next(x for x in both if x != selected)
    changes: list[Any] = []
    call.a.on("selectedcandidatepairchange", changes.append)
    again = record_candidates(call.a)
    await a.update_addresses([other])
    await wait_for(lambda: any(c.pair.local_address[0] == other for c in changes),
                   what="a pair on the address left selected")
    assert [c.ip for c in again if c is not None] == [other]  # announced again
    for candidate in again:  # the remote accepts it again and checks it
        await call.b.addIceCandidate(candidate)
    before = call.media_b.count(0)
    await wait_for(lambda: call.media_b.count(0) > before + 10, what="media over the address left")
    assert [e.remote_address[0] for e in call.media_b.events[-5:]] == [other] * 5
    assert a.restarts == b.restarts == 0
    await call.close()
