"""IceOptions.backup_ping_interval: after nomination the other pairs keep being checked (kept
warm), and when the selected pair's address vanishes the controlling side nominates a valid
backup at once, with no ICE restart; the controlled side follows that nomination.

Real aiortc/lab.rtc peers over real loopback sockets (127.0.0.x addresses stand for a phone's
networks); the remote counts the STUN requests its socket receives."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aioice import stun
from aioice.ice import CandidatePair

from lab.rtc import DetectionConfig, IceOptions
from lab.rtc.options import BACKUP_PING_INTERVAL
from tests.rtc.peers import make_peer, start_call, wait_for

ADDRESSES = ("127.0.0.2", "127.0.0.3")
# liveness by silence only after a minute: whatever moves the call sooner is the backup logic
SLOW = DetectionConfig(consent_interval=0.2, disconnected_after=60.0, failed_after=120.0)


def count_requests(connection: Any) -> dict[tuple[str, int], int]:
    """Binding requests received on each of the connection's sockets, by sender."""
    counts: dict[tuple[str, int], int] = {}
    for protocol in connection.lab_protocols:
        receive = protocol.datagram_received

        def counting(data: bytes, addr: Any, receive: Any = receive) -> None:
            try:
                message = stun.parse_message(data)
            except ValueError:
                message = None
            if message is not None and message.message_class == stun.Class.REQUEST:
                key = (addr[0], addr[1])
                counts[key] = counts.get(key, 0) + 1
            receive(data, addr)

        protocol.datagram_received = counting
    return counts


def test_the_default_depends_on_continual_gathering() -> None:
    assert IceOptions().backup_pings is None
    assert IceOptions(gather_continually=True).backup_pings == BACKUP_PING_INTERVAL == 25.0
    assert IceOptions(gather_continually=True, backup_ping_interval=0).backup_pings is None
    assert IceOptions(backup_ping_interval=2.5).backup_pings == 2.5
    with pytest.raises(ValueError, match="backup_ping_interval"):
        IceOptions(backup_ping_interval=-1)


async def test_a_pair_not_selected_keeps_being_checked() -> None:
    call = await start_call(
        make_peer(SLOW, addresses=ADDRESSES, rank_host_addresses=True, backup_ping_interval=0.3),
        make_peer(SLOW, backup_ping_interval=0.3),
    )
    a, b = call.transport(call.a), call.transport(call.b)
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[0], what="the call on .2")
    connection = a.activeGeneration.connection
    requests = count_requests(b.activeGeneration.connection)
    await wait_for(lambda: any(bk.pair.local_candidate.host == ADDRESSES[1] and bk.answered_at is not None
                               for bk in connection.lab_backups.values()), what="the .3 pair valid")
    (backup,) = [bk for bk in connection.lab_backups.values() if bk.pair.local_candidate.host == ADDRESSES[1]]
    first_checked, first_answered = backup.checked_at, backup.answered_at
    await wait_for(lambda: backup.checks >= 3 and backup.answered_at != first_answered, timeout=10,
                   what="the .3 pair checked again")
    assert backup.checked_at is not None and first_checked is not None and backup.checked_at > first_checked
    from_backup = sum(n for (host, _), n in requests.items() if host == ADDRESSES[1])
    assert from_backup >= 2  # the remote's socket received them
    # the backup checks never moved the call: the ranked network still carries it
    assert a.getSelectedCandidatePair().local_address[0] == ADDRESSES[0]
    assert b.getSelectedCandidatePair().remote_address[0] == ADDRESSES[0]
    await call.close()


async def test_without_backup_pings_a_pair_not_selected_is_left_alone() -> None:
    call = await start_call(make_peer(SLOW, addresses=ADDRESSES, rank_host_addresses=True), make_peer(SLOW))
    a, b = call.transport(call.a), call.transport(call.b)
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[0], what="the call on .2")
    requests = count_requests(b.activeGeneration.connection)
    await asyncio.sleep(1.0)
    assert not a.activeGeneration.connection.lab_backups
    assert sum(n for (host, _), n in requests.items() if host == ADDRESSES[1]) == 0
    await call.close()


async def test_losing_the_selected_address_nominates_a_warm_backup_without_a_restart() -> None:
    call = await start_call(
        make_peer(SLOW, addresses=ADDRESSES, rank_host_addresses=True, gather_continually=True,
                  backup_ping_interval=0.3),
        make_peer(SLOW, gather_continually=True, backup_ping_interval=0.3),
    )
    a, b = call.transport(call.a), call.transport(call.b)
    assert call.a.iceConnectionState == "connected"
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[0], what="the call on .2")
    connection = a.activeGeneration.connection
    assert connection.ice_controlling
    await wait_for(lambda: connection._lab_best_backup(1) is not None, what="a valid backup")
    rechecked: list[Any] = []
    check_all_again = connection._lab_check_all_again
    connection._lab_check_all_again = lambda: rechecked.append(True) or check_all_again()
    await a.update_addresses([ADDRESSES[1]])
    # at once: the backup carries the phone's media before any answer
    assert a.getSelectedCandidatePair().local_address[0] == ADDRESSES[1]
    await wait_for(lambda: b.getSelectedCandidatePair().remote_address[0] == ADDRESSES[1],
                   what="the controlled side on the nominated backup")
    await wait_for(lambda: connection.lab_selected_pair().nominated, what="the nomination answered")
    assert not rechecked  # one nomination, not a check of every path left
    before = call.media_b.count()
    await wait_for(lambda: call.media_b.count() > before + 10, what="media over the backup")
    assert call.media_b.events[-1].remote_address[0] == ADDRESSES[1]
    assert a.restarts == b.restarts == 0
    assert a.activeGeneration.number == b.activeGeneration.number == 0
    await call.close()


async def test_the_controlled_side_follows_a_nomination_on_a_pair_whose_check_was_cancelled() -> None:
    """connect()'s clean-up cancels the checks still in flight when the list completes; the
    remote's later nomination of such a pair must still start the triggered check (aioice starts
    one only while the pair's task is None), so the controlled side moves with it."""
    call = await start_call(make_peer(SLOW, addresses=ADDRESSES, rank_host_addresses=True), make_peer(SLOW))
    a, b = call.transport(call.a), call.transport(call.b)
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[0], what="the call on .2")
    controlled = b.activeGeneration.connection
    others = [p for p in controlled._check_list if p.remote_addr[0] == ADDRESSES[1]]
    if not others:  # dropped unchecked at nomination: the pair as the first checks left it
        (remote,) = [c for c in controlled._remote_candidates if c.host == ADDRESSES[1]]
        others = [CandidatePair(controlled._check_list[0].protocol, remote)]
        controlled._check_list.append(others[0])
    (other,) = others
    # the state connect()'s clean-up leaves: a cancelled task, the pair failed
    dead = asyncio.ensure_future(asyncio.sleep(10))
    dead.cancel()
    await asyncio.sleep(0)
    other.task = dead
    other.state = type(other.state).FAILED
    # the controlling side moves, nominating (as DetectionConfig.recheck_pairs_after does)
    assert a.activeGeneration.connection.lab_recheck_pairs() >= 1
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[1], what="a on .3")
    await wait_for(lambda: b.getSelectedCandidatePair().remote_address[0] == ADDRESSES[1],
                   what="the controlled side on the new pair")
    assert b.restarts == 0 and b.activeGeneration.number == 0
    await call.close()


async def test_a_late_nomination_of_a_lower_pair_waits_for_the_remotes_media() -> None:
    """RFC 5245 section 8.1.1.2: the controlled side keeps the highest-priority nominated pair
    while it answers. A first-round check of the standby path arriving late (its USE-CANDIDATE
    sent before another pair was nominated) does not move it; the controlling side's media
    arriving over that pair does (a deliberate move sends on the new pair at once)."""
    call = await start_call(
        make_peer(SLOW, addresses=ADDRESSES, rank_host_addresses=True, backup_ping_interval=0.3),
        make_peer(SLOW, backup_ping_interval=0.3),
    )
    a, b = call.transport(call.a), call.transport(call.b)
    await wait_for(lambda: a.getSelectedCandidatePair().local_address[0] == ADDRESSES[0], what="the call on .2")
    connection = a.activeGeneration.connection
    await wait_for(lambda: connection._lab_best_backup(1) is not None, what="the .3 pair valid")
    standby = connection._lab_best_backup(1)
    await wait_for(lambda: any(p.remote_addr == standby.local_addr and p.state.name == "SUCCEEDED"
                               for p in b.activeGeneration.connection._check_list), what="valid at b too")
    await connection._lab_paced_check(standby, connection.build_request(standby, nominate=True))
    await asyncio.sleep(0.3)  # a consent round or more
    assert b.getSelectedCandidatePair().remote_address[0] == ADDRESSES[0]
    # the controlling side now sends over it: the controlled side follows
    connection._nominated[1] = standby
    await wait_for(lambda: b.getSelectedCandidatePair().remote_address[0] == ADDRESSES[1],
                   what="b follows the media")
    await call.close()
