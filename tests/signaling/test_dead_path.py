"""reconnect_now() on a path that died (handover): abandoned at once, the session resumes.

The dead path is made by a small TCP relay on loopback between client and server: it can
blackhole the connections it carries (bytes read and dropped both ways, as on a link that went
away) while still accepting new connections (the new interface's path).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from lab.rtc.signaling import SignalingClient, SignalingServer
from tests.signaling.messages import collect


@dataclass
class _Carried:
    client_side: asyncio.StreamWriter
    server_side: asyncio.StreamWriter
    dead: bool = False
    bytes_from_client_while_dead: bytearray = field(default_factory=bytearray)
    client_gone: asyncio.Event = field(default_factory=asyncio.Event)


class BlackholingRelay:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections: list[_Carried] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def blackhole_existing(self) -> None:
        for c in self.connections:
            c.dead = True

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for c in self.connections:
            c.client_side.close()
            c.server_side.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        carried = _Carried(writer, up_writer)
        self.connections.append(carried)
        for task in (self._pump(carried, reader, up_writer, from_client=True),
                     self._pump(carried, up_reader, writer, from_client=False)):
            t = asyncio.get_running_loop().create_task(task)
            self._tasks.add(t)

    async def _pump(self, c: _Carried, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    from_client: bool) -> None:
        try:
            while data := await reader.read(65536):
                if c.dead:
                    if from_client:
                        c.bytes_from_client_while_dead += data
                    continue
                writer.write(data)
        except (ConnectionError, OSError):
            pass
        finally:
            if from_client:
                c.client_gone.set()
            if not c.dead:
                with contextlib.suppress(Exception):
                    writer.close()


async def test_reconnect_now_abandons_a_dead_path_without_a_close_handshake() -> None:
    async with SignalingServer("127.0.0.1", 0) as server:
        relay = BlackholingRelay(server.port)
        url = await relay.start()
        try:
            async with SignalingClient.create(url, "dead", "alice") as a, \
                       SignalingClient.create(server.url, "dead", "bob") as b:
                await a.wait_connected(10)
                await b.wait_connected(10)
                to_a = asyncio.create_task(collect(a, 1))
                b.send({"before": True})
                assert await to_a == [{"before": True}]
                incarnation = a.session.incarnation
                old_path = relay.connections[0]

                relay.blackhole_existing()  # the handover: alice's old interface is gone
                to_b = asyncio.create_task(collect(b, 3))
                to_a = asyncio.create_task(collect(a, 2))
                a.send({"i": 0})  # goes into the dead path
                b.send({"j": 0})
                await asyncio.sleep(0.1)
                a.reconnect_now()
                a.send({"i": 1})
                a.send({"i": 2})
                b.send({"j": 1})

                assert [m["i"] for m in await to_b] == [0, 1, 2]
                assert [m["j"] for m in await to_a] == [0, 1]
                # the client dropped the dead connection itself (no waiting on a close reply),
                # and wrote no close frame (opcode 8, masked: 0x88) into it
                await asyncio.wait_for(old_path.client_gone.wait(), 10)
                sent = bytes(old_path.bytes_from_client_while_dead)
                assert not _has_close_frame(sent), sent.hex()
                assert a.connects == 2 and len(relay.connections) == 2
                assert a.session.incarnation == incarnation
        finally:
            await relay.stop()


def _has_close_frame(data: bytes) -> bool:
    """Walk client->server WebSocket frames (masked) and report a close frame."""
    i = 0
    while i + 2 <= len(data):
        opcode, length = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if length == 126:
            length, i = int.from_bytes(data[i:i + 2], "big"), i + 2
        elif length == 127:
            length, i = int.from_bytes(data[i:i + 8], "big"), i + 8
        if opcode == 0x8:
            return True
        i += 4 + length  # masking key, payload
    return False
