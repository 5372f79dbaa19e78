"""A remote ICE restart offer that arrives while our own restart generation is scheduled but
not yet checking (seen against Chromium: its restart offer a few ms after it answered ours).

The answer must come from a generation that really runs checks against the remote's new
credentials. Before the fix lab.rtc answered from its own scheduled generation, whose checks
then ran against the remote's previous (abandoned) credentials and gave up 20 s later.
"""

from __future__ import annotations

from typing import Any

import pytest

from lab.rtc.signaling import MemoryChannelPair
from tests.negotiation.conftest import on_current_generation, open_call, poll
from tests.negotiation.conftest import ufrag as nego_ufrag

from .peers import make_peer, start_call, wait_for
from .test_restart import ufrag


async def test_remote_restart_offer_while_own_new_generation_is_pending_is_answered_from_a_checked_generation() -> None:
    call = await start_call(make_peer(), make_peer())
    a, b = call.a, call.b
    transport = a.getTransceivers()[0].sender.transport.transport
    try:
        # a restarts ICE; b answers with new credentials of its own
        a.restartIce()
        await a.setLocalDescription()
        own_offer = ufrag(a.localDescription)
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription()
        first_answer = b.localDescription
        # b restarts again at once: its offer reaches a right after a applied b's answer, while
        # a's new generation has been scheduled but has not started its checks yet
        b.restartIce()
        await b.setLocalDescription()
        b_new = ufrag(b.localDescription)
        await a.setRemoteDescription(first_answer)
        assert transport.pendingGeneration is not None
        assert transport.pendingGeneration.local.usernameFragment == own_offer
        await a.setRemoteDescription(b.localDescription)
        await a.setLocalDescription()
        answer = ufrag(a.localDescription)
        await b.setRemoteDescription(a.localDescription)
        assert a.signalingState == b.signalingState == "stable"
        assert ufrag(b.remoteDescription) == answer  # b's offer got its answer

        answering = transport.generation_for_local_ufrag(answer)
        assert answering is not None and answering.started
        await wait_for(lambda: answering.connection.remote_username is not None, 10, "checks scheduled")
        assert answering.connection.remote_username == b_new, \
            f"answered with {answer} (own offer {own_offer}) but its checks target an old remote ufrag"
        await wait_for(lambda: transport.activeGeneration is answering, 15, "a on the answered generation")
        assert transport.activeGeneration.remote is not None
        assert transport.activeGeneration.remote.usernameFragment == b_new
        start = call.media_a.count(answering.number)
        await wait_for(lambda: call.media_a.count(answering.number) > start + 5, 15, "media on it")
    finally:
        await call.close()


@pytest.mark.parametrize("first", ["polite", "impolite"])
async def test_perfect_negotiation_restart_offer_right_behind_the_answer_to_ours(first: str) -> None:
    """`first` restarts ICE; the other side answers and restarts at once (its offer right
    behind its answer). Both end stable, each on the generation its local description names,
    with the call working: no generation is left checking against abandoned credentials."""
    pair = MemoryChannelPair(names=("impolite", "polite"))
    pair.start()
    call = await open_call(pair)
    try:
        starter = call.polite if first == "polite" else call.impolite
        other = call.impolite if first == "polite" else call.polite
        send = other.channel.send
        restarted: list[str] = []

        def send_then_restart(message: dict[str, Any]) -> Any:
            sent = send(message)
            description = message.get("description") or {}
            if description.get("type") == "answer" and not restarted:
                restarted.append(str(description.get("type")))
                other.pc.restartIce()
            return sent

        other.channel.send = send_then_restart  # type: ignore[method-assign]
        old = {n: nego_ufrag(n.pc.localDescription) for n in call.negotiators}
        starter.pc.restartIce()
        await poll(lambda: bool(restarted), 30, "the other side answered our restart")
        await call.settle(lambda: all(nego_ufrag(n.pc.localDescription) != old[n] for n in call.negotiators))
        await poll(lambda: all(on_current_generation(n.pc) for n in call.negotiators), 15,
                   "both peers on the generation their descriptions name")
        for n in call.negotiators:
            remote = nego_ufrag(n.pc.remoteDescription)
            active = n.pc.getIceTransports()[0].activeGeneration
            assert active.remote is not None and active.remote.usernameFragment == remote
        await call.ping()
    finally:
        await call.close()
