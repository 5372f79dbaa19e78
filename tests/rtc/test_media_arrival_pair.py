"""Each received media packet names the candidate pair it arrived on (MediaReceived.pair): the
socket that received it and the address it came from, which lab.experiment.metrics trusts over
the selected pair. Two real lab.rtc peers on loopback."""

from __future__ import annotations

from tests.rtc.peers import make_peer, start_call, wait_for


async def test_every_packet_names_the_pair_it_arrived_on() -> None:
    a, b = make_peer(), make_peer()
    call = await start_call(a, b)
    try:
        await wait_for(lambda: call.media_a.count() > 20 and call.media_b.count() > 20, what="media")
        for pc, log, other in ((a, call.media_a, b), (b, call.media_b, a)):
            mine = call.transport(pc).getSelectedCandidatePair()
            theirs = call.transport(other).getSelectedCandidatePair()
            assert mine is not None and theirs is not None
            for event in log.events[-10:]:
                assert event.pair is not None, event
                assert event.pair.remote_address == event.remote_address == mine.remote_address
                assert event.pair.local_address == mine.local_address == theirs.remote_address
                assert (event.pair.local_type, event.pair.remote_type) == (mine.local_type, mine.remote_type)
                assert event.pair.generation == event.generation == mine.generation
    finally:
        await call.close()
