"""Which pair the first connectivity check goes to.

After a handover the phone's new generation pairs its LTE address with the remote's host address
(a private address behind the remote's home NAT) and with the remote's server-reflexive one. The
host pair has the higher RFC 8445 priority but cannot work across two NATs; it must not take the
first check's Ta slot. Real UDP sockets on loopback addresses stand in for the remote's addresses
(they record the checks in the order they arrive); the local server-reflexive candidate is added
as a STUN answer would add it (no NAT runs in this test: the rule reads only the candidates).
"""

from __future__ import annotations

import asyncio
import contextlib

from aioice import Candidate, stun
from aioice.candidate import candidate_foundation, candidate_priority

from lab.rtc.ice_connection import LabIceConnection

from .peers import LOOPBACK


class CheckRecorder(asyncio.DatagramProtocol):
    """A remote address: records the binding requests it receives, answers nothing."""

    def __init__(self, name: str, arrivals: list[str]) -> None:
        self.name = name
        self.arrivals = arrivals

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        with contextlib.suppress(ValueError):
            if stun.parse_message(data).message_method == stun.Method.BINDING:
                self.arrivals.append(self.name)


def candidate(kind: str, host: str, port: int, related: str | None = None) -> Candidate:
    return Candidate(
        foundation=candidate_foundation(kind, "udp", host), component=1, transport="udp",
        priority=candidate_priority(1, kind), host=host, port=port, type=kind,
        related_address=related, related_port=port if related else None,
    )


async def first_checks(local_public: str) -> tuple[list[str], LabIceConnection]:
    """Run the controlling side's checks against a remote host candidate (127.0.0.3, behind
    public 127.0.0.4) and its srflx candidate (127.0.0.4); the local side's public address is
    local_public. Returns the order in which the remote addresses received checks."""
    loop = asyncio.get_running_loop()
    arrivals: list[str] = []
    host_t, _ = await loop.create_datagram_endpoint(lambda: CheckRecorder("host", arrivals), local_addr=("127.0.0.3", 0))
    srflx_t, _ = await loop.create_datagram_endpoint(lambda: CheckRecorder("srflx", arrivals), local_addr=("127.0.0.4", 0))
    connection = LabIceConnection(
        generation=1, host_addresses=LOOPBACK, consent_interval=1.0, ice_controlling=True,
        check_interval=0.048, check_pacing=0.02, check_timeout=1.0,
    )
    connecting: asyncio.Task[None] | None = None
    try:
        await connection.gather_candidates()
        host = connection.local_candidates[0]
        connection._local_candidates.append(candidate("srflx", local_public, host.port, related=host.host))
        connection.remote_username, connection.remote_password = "remote", "remotepasswordremotepass"
        remote_host = candidate("host", "127.0.0.3", host_t.get_extra_info("sockname")[1])
        remote_srflx = candidate("srflx", "127.0.0.4", srflx_t.get_extra_info("sockname")[1], related="127.0.0.3")
        await connection.add_remote_candidate(remote_host)
        await connection.add_remote_candidate(remote_srflx)
        await connection.add_remote_candidate(None)
        connecting = asyncio.ensure_future(connection.connect())
        for _ in range(200):
            if {"host", "srflx"} <= set(arrivals):
                break
            await asyncio.sleep(0.01)
        return arrivals, connection
    finally:
        if connecting is not None:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await connecting
        await connection.close()
        host_t.close()
        srflx_t.close()


async def test_a_host_pair_across_two_nats_does_not_take_the_first_check() -> None:
    arrivals, connection = await first_checks(local_public="127.0.0.5")
    assert arrivals[0] == "srflx", arrivals
    # demoted, not dropped: the host pair is still checked (private networks may be routed)
    assert "host" in arrivals, arrivals


async def test_a_host_pair_behind_the_same_nat_is_checked_first() -> None:
    # the same public address on both sides: one NAT, one private network; priority order holds
    arrivals, _ = await first_checks(local_public="127.0.0.4")
    assert arrivals[0] == "host", arrivals
    assert "srflx" in arrivals, arrivals


def test_the_rule_needs_both_public_addresses() -> None:
    connection = LabIceConnection(generation=0, host_addresses=LOOPBACK, consent_interval=1.0, ice_controlling=True)

    class Pair:
        remote_candidate = candidate("host", "192.168.2.2", 4000)

    pair = Pair()
    connection._remote_candidates = [pair.remote_candidate]
    assert not connection.lab_unlikely_pair(pair)  # type: ignore[arg-type]  # remote's NAT unknown
    connection._remote_candidates.append(candidate("srflx", "198.51.100.20", 4000, related="192.168.2.2"))
    assert not connection.lab_unlikely_pair(pair)  # type: ignore[arg-type]  # ours unknown
    connection._local_candidates = [candidate("srflx", "198.51.100.30", 5000, related="100.72.0.2")]
    assert connection.lab_unlikely_pair(pair)  # type: ignore[arg-type]
