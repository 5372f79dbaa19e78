"""DetectionConfig.disconnect_on_interface_loss: a selected pair whose local address vanished
(its interface went) loses consent at once, as Firefox's sockets error, instead of after
`disconnected_after` of silence (the `firefox` stand-in profile uses it)."""

from __future__ import annotations

import asyncio

from lab.rtc import DetectionConfig
from tests.rtc.peers import make_peer, negotiate, start_call, wait_for

# 'disconnected' by silence alone would take a minute: anything sooner is the interface loss
SLOW = DetectionConfig(consent_interval=0.2, disconnected_after=60.0, failed_after=120.0)


async def test_losing_the_selected_pairs_interface_disconnects_at_once_and_a_restart_recovers() -> None:
    slow_loss = DetectionConfig(consent_interval=0.2, disconnected_after=60.0, failed_after=120.0,
                                disconnect_on_interface_loss=True)
    call = await start_call(make_peer(slow_loss, addresses=("127.0.0.2",)), make_peer(SLOW))
    ice = call.transport(call.a)
    assert ice.getSelectedCandidatePair().local_address[0] == "127.0.0.2"
    await ice.update_addresses(["127.0.0.3"])
    # said at once, as Firefox's erroring socket does, not at the next liveness tick
    assert ice.state == "disconnected"
    await wait_for(lambda: call.a.iceConnectionState == "disconnected", timeout=20, what="a disconnected")
    assert call.b.iceConnectionState == "connected"  # b's consent is answered by nobody, but not for a minute
    # the lab's policies restart on 'disconnected': the new generation gathers on what is left
    call.a.setIceOptions(make_peer(addresses=("127.0.0.3",)).iceOptions)
    call.a.restartIce()
    await negotiate(call.a, call.b)
    await wait_for(lambda: call.a.iceConnectionState == "connected", what="a connected again")
    assert ice.getSelectedCandidatePair().local_address[0] == "127.0.0.3"
    before = call.media_b.count()
    await wait_for(lambda: call.media_b.count() > before + 10, what="media from the new address")
    await call.close()


async def test_without_the_option_losing_an_interface_waits_for_consent() -> None:
    call = await start_call(make_peer(SLOW, addresses=("127.0.0.2",)), make_peer(SLOW))
    ice = call.transport(call.a)
    await ice.update_addresses(["127.0.0.3"])
    assert ice.getSelectedCandidatePair() is None  # the pair went with its socket
    await asyncio.sleep(1.0)  # many liveness ticks (a tick is at most 0.25 s)
    assert call.a.iceConnectionState == "connected"
    await call.close()


async def test_losing_another_interface_keeps_the_call_connected() -> None:
    loss = DetectionConfig(consent_interval=0.2, disconnected_after=60.0, failed_after=120.0,
                           disconnect_on_interface_loss=True)
    call = await start_call(make_peer(loss, addresses=("127.0.0.2", "127.0.0.4")), make_peer(SLOW))
    ice = call.transport(call.a)
    used = ice.getSelectedCandidatePair().local_address[0]
    await ice.update_addresses([used])  # the other address vanished; the selected pair's stayed
    await asyncio.sleep(1.0)
    assert call.a.iceConnectionState == "connected"
    assert ice.getSelectedCandidatePair().local_address[0] == used
    await call.close()
