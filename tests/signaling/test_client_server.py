"""The WebSocket server and reconnecting client on loopback (mechanics; see test_through_nat)."""

from __future__ import annotations

import asyncio
import json
import sys

from lab.rtc.signaling import SignalingClient, SignalingImpairments, SignalingServer
from tests.signaling.messages import collect


async def test_two_peers_exchange_messages_both_ways() -> None:
    async with SignalingServer("127.0.0.1", 0) as server:
        async with SignalingClient.create(server.url, "r1", "alice") as a, SignalingClient.create(server.url, "r1", "bob") as b:
            await a.wait_connected(10)
            await b.wait_connected(10)
            to_b = asyncio.create_task(collect(b, 5))
            to_a = asyncio.create_task(collect(a, 5))
            for i in range(5):
                a.send({"from": "a", "i": i})
                b.send({"from": "b", "i": i})
            assert [m["i"] for m in await to_b] == list(range(5))
            assert [m["i"] for m in await to_a] == list(range(5))
            assert server.room_members("r1") == {"alice": True, "bob": True}


async def test_messages_sent_before_the_other_peer_joins_are_delivered() -> None:
    async with SignalingServer("127.0.0.1", 0) as server:
        async with SignalingClient.create(server.url, "r2", "alice") as a:
            await a.wait_connected(10)
            for i in range(3):
                a.send({"i": i})
            await asyncio.sleep(0.2)
            async with SignalingClient.create(server.url, "r2", "bob") as b:
                assert [m["i"] for m in await collect(b, 3)] == [0, 1, 2]


async def test_outage_queues_messages_and_client_resumes_the_session() -> None:
    async with SignalingServer("127.0.0.1", 0) as server:
        async with SignalingClient.create(server.url, "r3", "alice") as a, SignalingClient.create(server.url, "r3", "bob") as b:
            await a.wait_connected(10)
            await b.wait_connected(10)
            states: list[str] = []
            a.on("state", lambda e: states.append(e["state"]))
            incarnation = a.session.incarnation
            a.begin_outage()
            await asyncio.sleep(0.3)
            assert not a.connected
            to_b = asyncio.create_task(collect(b, 4))
            to_a = asyncio.create_task(collect(a, 2))
            for i in range(4):
                a.send({"i": i})
            b.send({"j": 0})
            b.send({"j": 1})
            await asyncio.sleep(0.3)
            assert not to_b.done() and not to_a.done()
            a.end_outage()
            assert [m["i"] for m in await to_b] == [0, 1, 2, 3]
            assert [m["j"] for m in await to_a] == [0, 1]
            assert a.session.incarnation == incarnation  # same session, not a new one
            assert a.connects >= 2
            assert states[:2] == ["disconnected", "connected"]


async def test_client_reconnects_with_backoff_after_server_restart() -> None:
    server = SignalingServer("127.0.0.1", 0)
    await server.start()
    port = server.port
    async with SignalingClient.create(server.url, "r4", "alice") as a, SignalingClient.create(server.url, "r4", "bob") as b:
        await a.wait_connected(10)
        await b.wait_connected(10)
        await server.stop()
        await asyncio.sleep(0.5)
        assert not a.connected
        to_b = asyncio.create_task(collect(b, 2))
        a.send({"i": 0})
        a.send({"i": 1})
        server = SignalingServer("127.0.0.1", port)
        await server.start()
        try:
            assert [m["i"] for m in await to_b] == [0, 1]
        finally:
            await server.stop()


async def test_impaired_websocket_link_still_delivers_each_message_once_in_order() -> None:
    bad = SignalingImpairments(delay_ms=3, jitter_ms=3, drop=0.15, duplicate=0.3, reorder=0.3, seed=7)
    async with SignalingServer("127.0.0.1", 0) as server:
        async with SignalingClient.create(server.url, "r5", "alice", impairments=bad, retransmit_s=0.2) as a, SignalingClient.create(server.url, "r5", "bob") as b:
            to_b = asyncio.create_task(collect(b, 40))
            for i in range(40):
                a.send({"i": i})
            assert [m["i"] for m in await to_b] == list(range(40))
            assert b.session.stats.duplicates_dropped > 0


async def test_third_peer_is_refused_with_a_clear_reason() -> None:
    async with SignalingServer("127.0.0.1", 0) as server:
        async with SignalingClient.create(server.url, "r6", "a") as a, SignalingClient.create(server.url, "r6", "b") as b:
            await a.wait_connected(10)
            await b.wait_connected(10)
            async with SignalingClient.create(server.url, "r6", "c") as c:
                for _ in range(1000):
                    if c.last_error is not None:
                        break
                    await asyncio.sleep(0.01)
                assert not c.connected
                assert c.last_error is not None and "full" in c.last_error


async def test_server_runs_as_a_module_with_recognisable_argv() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lab.rtc.signaling.server", "--host", "127.0.0.1", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        ready = json.loads(line)
        assert ready["event"] == "signaling-server-ready"
        async with SignalingClient.create(ready["url"], "r7", "a") as a, SignalingClient.create(ready["url"], "r7", "b") as b:
            to_b = asyncio.create_task(collect(b, 1))
            a.send({"hello": 1})
            assert (await to_b)[0] == {"hello": 1}
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_reconnect_now_resumes_the_session_at_once() -> None:
    async with SignalingServer("127.0.0.1", 0) as server:
        async with SignalingClient.create(server.url, "r8", "alice") as a, SignalingClient.create(server.url, "r8", "bob") as b:
            await a.wait_connected(10)
            await b.wait_connected(10)
            a.reconnect_now()
            to_b = asyncio.create_task(collect(b, 3))
            for i in range(3):
                a.send({"i": i})
            assert [m["i"] for m in await to_b] == [0, 1, 2]
            for _ in range(1000):
                if a.connects == 2 and a.connected:
                    break
                await asyncio.sleep(0.01)
            assert a.connects == 2 and a.connected
