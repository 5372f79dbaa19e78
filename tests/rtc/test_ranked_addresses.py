"""IceOptions.rank_host_addresses: host candidates (and their srflx) rank by their address's
place in host_addresses, so the first network's pairs are checked first (sorted by priority) (as libwebrtc ranks a
host's networks; the `chrome` and `firefox` stand-in profiles use it). With aggressive
nomination the first pair to answer is nominated; a better-ranked pair still being checked then
goes on and, once it answers, carries the call on both sides."""

from __future__ import annotations

import pytest

from tests.rtc.peers import make_peer, start_call, wait_for


@pytest.mark.parametrize("addresses", [("127.0.0.3", "127.0.0.2"), ("127.0.0.2", "127.0.0.3")])
async def test_the_first_address_ranks_first(addresses: tuple[str, str]) -> None:
    call = await start_call(make_peer(addresses=addresses, rank_host_addresses=True), make_peer())
    connection = call.transport(call.a).activeGeneration.connection
    priority = {c.host: c.priority for c in connection.local_candidates if c.type == "host"}
    assert priority[addresses[0]] > priority[addresses[1]]
    # the remote side sees the same ranking in what a described
    remote = call.transport(call.b).activeGeneration.connection.remote_candidates
    described = {c.host: c.priority for c in remote if c.type == "host"}
    assert described == priority
    # a lower-ranked pair that answered first is replaced once the first address's pair answers
    await wait_for(lambda: call.transport(call.a).getSelectedCandidatePair().local_address[0] == addresses[0],
                   what=f"the call on {addresses[0]}")
    await wait_for(lambda: call.transport(call.b).getSelectedCandidatePair().remote_address[0] == addresses[0],
                   what=f"the remote's call on {addresses[0]}")
    before = call.media_b.count()
    await wait_for(lambda: call.media_b.count() > before + 5, what="media")
    assert call.media_b.events[-1].remote_address[0] == addresses[0]
    await call.close()


async def test_without_ranking_every_host_candidate_has_the_same_priority() -> None:
    call = await start_call(make_peer(addresses=("127.0.0.3", "127.0.0.2")), make_peer())
    hosts = [c for c in call.transport(call.a).activeGeneration.connection.local_candidates if c.type == "host"]
    assert len({c.priority for c in hosts}) == 1 and len(hosts) == 2
    await call.close()
