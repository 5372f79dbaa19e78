"""DetectionConfig.recheck_pairs_after: when the selected pair stops answering, the other pairs
of the generation are checked again and one that answers carries the call, with no ICE restart
and no 'disconnected' (libwebrtc moves to another writable pair; the `chrome` stand-in uses it,
e.g. after a NAT forgot the binding of the selected path)."""

from __future__ import annotations

import asyncio
from typing import Any

from lab.rtc import DetectionConfig
from tests.rtc.peers import PathCut, make_peer, start_call, wait_for

ADDRESSES = ("127.0.0.2", "127.0.0.3")


def detection(recheck: float | None) -> DetectionConfig:
    # 'disconnected' only after a minute: anything sooner is the recheck
    return DetectionConfig(consent_interval=0.2, disconnected_after=60.0, failed_after=120.0,
                           recheck_pairs_after=recheck)


async def test_another_pair_takes_the_call_when_the_selected_one_stops_answering() -> None:
    call = await start_call(make_peer(detection(0.5), addresses=ADDRESSES, rank_host_addresses=True),
                            make_peer(detection(0.5)))
    a, b = call.transport(call.a), call.transport(call.b)
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[0], what="the call on .2")
    cut = PathCut()
    cut._patch(a.activeGeneration.connection.lab_selected_pair().protocol)  # only that socket goes silent
    cut.active = True
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[1], what="a on .3")
    await wait_for(lambda: b.getSelectedCandidatePair().remote_address[0] == ADDRESSES[1], what="b to .3")
    before_a, before_b = call.media_a.count(), call.media_b.count()
    await wait_for(lambda: call.media_a.count() > before_a + 10 and call.media_b.count() > before_b + 10,
                   what="media both ways on the other pair")
    assert call.media_b.events[-1].remote_address[0] == ADDRESSES[1]
    assert a.restarts == b.restarts == 0 and a.activeGeneration.number == 0
    assert "disconnected" not in call.states["a"] and "disconnected" not in call.states["b"]
    await call.close()


async def test_without_the_option_the_call_stays_on_the_silent_pair() -> None:
    call = await start_call(make_peer(detection(None), addresses=ADDRESSES, rank_host_addresses=True),
                            make_peer(detection(None)))
    a = call.transport(call.a)
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[0], what="the call on .2")
    cut = PathCut()
    cut._patch(a.activeGeneration.connection.lab_selected_pair().protocol)
    cut.active = True
    await asyncio.sleep(1.5)  # three times the other test's recheck delay
    assert a.getSelectedCandidatePair().local_address[0] == ADDRESSES[0]
    await call.close()


def test_address_is_local_probes_the_hosts_addresses() -> None:
    from lab.rtc.ice_connection import address_is_local

    assert address_is_local("127.0.0.1")
    assert not address_is_local("192.0.2.1")  # TEST-NET-1: never a local address here


async def test_a_vanished_selected_address_defers_the_recheck(monkeypatch: Any) -> None:
    """DetectionConfig.recheck_delay_after_address_loss. Loopback addresses cannot vanish, so the
    probe of the selected pair's address is told that .2 went (the probe itself is tested above;
    the stand-in's handover test, tests/experiment/test_handover_in_generation_0.py, loses a real
    interface)."""
    from lab.rtc import ice_connection

    monkeypatch.setattr(ice_connection, "address_is_local", lambda host: host != ADDRESSES[0])
    slow = DetectionConfig(consent_interval=0.2, disconnected_after=60.0, failed_after=120.0,
                           recheck_pairs_after=0.5, recheck_delay_after_address_loss=0.5)
    call = await start_call(make_peer(slow, addresses=ADDRESSES, rank_host_addresses=True), make_peer(detection(None)))
    a = call.transport(call.a)
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[0], what="the call on .2")
    connection = a.activeGeneration.connection
    started: list[int] = []
    recheck_now = connection._lab_recheck_now
    connection._lab_recheck_now = lambda: started.append(1) or recheck_now()
    cut = PathCut()
    cut._patch(connection.lab_selected_pair().protocol)
    cut.active = True
    await wait_for(lambda: connection._lab_recheck_deferred is not None, what="the recheck deferred")
    assert not started  # due, but deferred
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[1], what="a on .3")
    assert started == [1] and a.restarts == 0
    await call.close()
