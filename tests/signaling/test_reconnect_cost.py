"""A reconnect costs no more than the new path needs: waiting messages ride behind the join, a
network change moves the connection at once (or leaves it alone), a backoff is cut short.

The join-reply test puts a TCP relay on loopback between client and server that withholds
everything the server sends until the other peer has received the message: a client that waited
for the join's reply before sending would never get it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from lab.rtc.signaling import SignalingClient, SignalingServer
from tests.signaling.messages import collect


class WithholdingRelay:
    """Carries client<->server bytes; server->client bytes wait until `release` is set."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.release = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        for task in (self._pump(reader, up_writer, hold=False), self._pump(up_reader, writer, hold=True)):
            t = asyncio.get_running_loop().create_task(task)
            self._tasks.add(t)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: bool) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                # the WebSocket upgrade's answer passes; the join's reply and all after it wait
                if hold and b"HTTP/1.1" not in data:
                    await self.release.wait()
                writer.write(data)


async def test_waiting_messages_go_out_behind_the_join_not_after_its_reply() -> None:
    async with SignalingServer("127.0.0.1", 0) as server:
        relay = WithholdingRelay(server.port)
        url = await relay.start()
        try:
            async with SignalingClient.create(server.url, "rj", "bob") as b:
                await b.wait_connected(10)
                to_b = asyncio.create_task(collect(b, 1, timeout=10))
                async with SignalingClient.create(url, "rj", "alice") as a:
                    a.send({"offer": 1})  # queued before any connection exists
                    assert (await to_b)[0] == {"offer": 1}
                    assert not a.connected  # the join's reply is still withheld
                    relay.release.set()
                    await a.wait_connected(10)
        finally:
            await relay.stop()


async def test_a_network_change_that_keeps_the_route_keeps_the_connection() -> None:
    async with SignalingServer("127.0.0.1", 0) as server:
        async with SignalingClient.create(server.url, "rn", "alice") as a:
            await a.wait_connected(10)
            assert a.network_changed() is False
            await asyncio.sleep(0.1)
            assert a.connected and a.connects == 1


async def test_a_network_change_that_moves_the_route_reconnects_at_once(monkeypatch) -> None:
    # The route lookup is faked (a different source address): changing this host's routes
    # would need a namespace of its own; the lab's handover tests do it for real.
    async with SignalingServer("127.0.0.1", 0) as server:
        async with SignalingClient.create(server.url, "rm", "alice") as a, \
                SignalingClient.create(server.url, "rm", "bob") as b:
            await a.wait_connected(10)
            await b.wait_connected(10)
            monkeypatch.setattr(a, "_route_source", lambda: "192.0.2.7")
            assert a.network_changed() is True
            monkeypatch.undo()
            to_b = asyncio.create_task(collect(b, 1))
            a.send({"after": "handover"})
            assert (await to_b)[0] == {"after": "handover"}
            for _ in range(500):
                if a.connects == 2 and a.connected:
                    break
                await asyncio.sleep(0.01)
            assert a.connects == 2 and a.connected


async def test_a_route_that_appears_cuts_the_backoff_short() -> None:
    with socket.socket() as spare:  # a port with nothing listening yet
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    backoff = {"initial_s": 60.0, "max_s": 60.0, "jitter": 0.0}
    async with SignalingClient.create(f"ws://127.0.0.1:{port}", "rb", "alice", backoff=backoff) as a:
        for _ in range(500):  # the first attempt is refused; the client sleeps 60 s
            if a.last_error is not None:
                break
            await asyncio.sleep(0.01)
        assert a.last_error is not None and not a.connected
        async with SignalingServer("127.0.0.1", port):
            assert a.network_changed() is True
            await a.wait_connected(10)


async def test_the_server_sends_small_frames_at_once_even_on_a_hand_made_socket() -> None:
    # the lab's trial server listens on a socket made inside the signaling host's namespace
    # (lab.experiment.signaling_host); one made with proto 0 got no TCP_NODELAY from asyncio
    from lab.experiment.signaling_host import NamespacedSignalingServer

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    server = NamespacedSignalingServer(sock)
    async with server:
        async with SignalingClient.create(server.url, "rd", "alice") as a:
            await a.wait_connected(10)
            conn = server._rooms["rd"].members["alice"]
            assert conn is not None
            accepted = conn.transport.get_extra_info("socket")
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


async def test_a_peer_whose_old_connection_is_closing_does_not_hold_up_the_other(monkeypatch) -> None:
    """The server relays each peer's frames in order. A frame for a peer whose connection is
    closing (keepalive timed out: its network went away) used to wait for that connection's
    close handshake, up to the send timeout, and every later frame of the sender waited behind
    it (1.9 s seen in a trial after glare). It goes to the backlog at once now, delivered when
    the peer rejoins. The send timeout is raised here so the old wait could not pass unseen."""
    from lab.rtc.signaling import server as server_module
    from tests.signaling.test_dead_path import BlackholingRelay

    monkeypatch.setattr(server_module, "SEND_TIMEOUT_S", 30.0)
    async with SignalingServer("127.0.0.1", 0, ping_interval_s=0.2, ping_timeout_s=0.4) as server:
        relay = BlackholingRelay(server.port)
        url = await relay.start()
        try:
            async with SignalingClient.create(url, "rc", "alice") as a, \
                    SignalingClient.create(server.url, "rc", "bob", retransmit_s=60.0) as b:
                await a.wait_connected(10)
                await b.wait_connected(10)
                relay.blackhole_existing()  # alice's path is gone
                for _ in range(300):  # the server's keepalive gives up on it: closing
                    conn = server._rooms["rc"].members.get("alice")
                    if conn is not None and conn.state.name != "OPEN":
                        break
                    await asyncio.sleep(0.02)
                to_a = asyncio.create_task(collect(a, 2, timeout=5))
                b.send({"n": 1})  # would wait on alice's closing connection
                b.send({"n": 2})
                a.reconnect_now()
                assert [m["n"] for m in await to_a] == [1, 2]
        finally:
            await relay.stop()


async def test_a_network_change_opens_the_new_connection_without_waiting_for_the_old_ones_teardown(
    monkeypatch,
) -> None:
    # The old connection's teardown is held (on an agent it competes with the restart for the
    # loop): the new connection's TCP and WebSocket handshakes must complete meanwhile.
    server = SignalingServer("127.0.0.1", 0)
    opened: list[object] = []
    handle = server._handle

    async def counting(conn) -> None:  # called once a connection's WebSocket upgrade is done
        opened.append(conn)
        await handle(conn)

    monkeypatch.setattr(server, "_handle", counting)
    async with server:
        async with SignalingClient.create(server.url, "rp", "alice") as a, \
                SignalingClient.create(server.url, "rp", "bob") as b:
            await a.wait_connected(10)
            await b.wait_connected(10)
            teardown = asyncio.Event()
            drop = a._drop_connection

            async def held_drop(ws) -> None:
                await teardown.wait()
                await drop(ws)

            monkeypatch.setattr(a, "_drop_connection", held_drop)
            a.reconnect_now()
            for _ in range(500):
                if len(opened) == 3:
                    break
                await asyncio.sleep(0.01)
            assert len(opened) == 3  # alice's new connection, while her old one is not torn down
            teardown.set()
            to_b = asyncio.create_task(collect(b, 1))
            a.send({"after": "handover"})
            assert (await to_b)[0] == {"after": "handover"}
            for _ in range(500):
                if a.connects == 2 and a.connected:
                    break
                await asyncio.sleep(0.01)
            assert a.connects == 2 and a.connected
