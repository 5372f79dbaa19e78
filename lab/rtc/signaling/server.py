"""WebSocket signaling server: rooms of two peers, relaying frames between them.

Run it on a topology host: `python -m lab.rtc.signaling.server --host ADDR --port P`.
A peer is identified by (room, peer name); a new connection under the same name replaces the old
one (the client's network changed), so a session resumes. Frames for a peer that is not connected
are kept (bounded) and delivered when it comes back. Peers are told when the other one comes and
goes, so they can send their unacknowledged messages again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

log = logging.getLogger("lab.rtc.signaling.server")

MAX_PEERS_PER_ROOM = 2
BACKLOG_PER_PEER = 2000
SEND_TIMEOUT_S = 2.0


@dataclass
class _Room:
    name: str
    members: dict[str, ServerConnection | None] = field(default_factory=dict)
    backlog: dict[str, deque[str]] = field(default_factory=dict)
    # frames sent before the other peer ever joined
    unclaimed: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=BACKLOG_PER_PEER))


class SignalingServer:
    """A plain asyncio WebSocket server bound to one address of a topology host."""

    def __init__(self, host: str, port: int = 0, *, ping_interval_s: float = 1.0, ping_timeout_s: float = 3.0) -> None:
        self.host = host
        self.port = port
        self._ping = (ping_interval_s, ping_timeout_s)
        self._rooms: dict[str, _Room] = {}
        self._server: Server | None = None
        self.relayed = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            compression=None,
            ping_interval=self._ping[0],
            ping_timeout=self._ping[1],
            logger=logging.getLogger("lab.rtc.signaling.server.ws"),
        )
        self.port = self._server.sockets[0].getsockname()[1] if self.port == 0 else self.port
        log.info("signaling server listening on %s", self.url)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SignalingServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def room_members(self, room: str) -> dict[str, bool]:
        r = self._rooms.get(room)
        return {p: c is not None for p, c in r.members.items()} if r else {}

    async def _handle(self, conn: ServerConnection) -> None:
        _no_delay(conn)
        try:
            first = json.loads(await asyncio.wait_for(conn.recv(), timeout=10))
        except (TimeoutError, ConnectionClosed, ValueError):
            return
        if not isinstance(first, dict) or first.get("t") != "join" or not first.get("room") or not first.get("peer"):
            await conn.close(4400, "first frame must be a join with room and peer")
            return
        room_name, peer = str(first["room"]), str(first["peer"])
        room = self._rooms.setdefault(room_name, _Room(room_name))
        if peer not in room.members and len(room.members) >= MAX_PEERS_PER_ROOM:
            await _send(conn, {"t": "error", "reason": f"room {room_name!r} is full: {sorted(room.members)}"})
            await conn.close(4409, "room full")
            return
        old = room.members.get(peer)
        room.members[peer] = conn
        if old is not None:
            log.info("room %s: %s reconnected, replacing its old connection", room_name, peer)
            # the old connection may be half-dead (its network went away): do not wait on it
            asyncio.get_running_loop().create_task(old.close(4000, "replaced by a new connection"))
        others = [p for p, c in room.members.items() if p != peer and c is not None]
        log.info("room %s: %s joined from %s (present: %s)", room_name, peer, _remote(conn), others)
        await _send(conn, {"t": "joined", "room": room_name, "peer": peer, "present": others})
        await self._flush_backlog(room, peer, conn)
        await self._broadcast_presence(room, peer, present=True)
        try:
            async for raw in conn:
                await self._relay(room, peer, raw)
        except ConnectionClosed:
            pass
        finally:
            if room.members.get(peer) is conn:
                room.members[peer] = None
                log.info("room %s: %s disconnected", room_name, peer)
                await self._broadcast_presence(room, peer, present=False)

    async def _relay(self, room: _Room, sender: str, raw: str | bytes) -> None:
        text = raw if isinstance(raw, str) else raw.decode()
        try:
            frame = json.loads(text)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        if frame.get("t") == "leave":
            room.members.pop(sender, None)
            room.backlog.pop(sender, None)
            await self._broadcast_presence(room, sender, present=False)
            if not room.members:
                self._rooms.pop(room.name, None)
            return
        others = [p for p in room.members if p != sender]
        if not others:
            room.unclaimed.append((sender, text))
            return
        for other in others:
            conn = room.members.get(other)
            self.relayed += 1
            if conn is not None and await _send_text(conn, text):
                continue
            current = room.members.get(other)
            if current is not None and current is not conn and await _send_text(current, text):
                continue  # the peer rejoined while this frame was being sent to its old connection
            room.backlog.setdefault(other, deque(maxlen=BACKLOG_PER_PEER)).append(text)

    async def _flush_backlog(self, room: _Room, peer: str, conn: ServerConnection) -> None:
        pending = [text for src, text in room.unclaimed if src != peer]
        room.unclaimed = deque(((s, t) for s, t in room.unclaimed if s == peer), maxlen=BACKLOG_PER_PEER)
        pending += list(room.backlog.pop(peer, ()))
        for text in pending:
            if not await _send_text(conn, text):
                return

    async def _broadcast_presence(self, room: _Room, peer: str, *, present: bool) -> None:
        # a snapshot: members join and leave while a send to a slow peer is awaited
        for other, conn in list(room.members.items()):
            if other != peer and conn is not None:
                await _send(conn, {"t": "presence", "peer": peer, "present": present})


def _no_delay(conn: ServerConnection) -> None:
    """Small frames leave at once, as from any real signaling server (Node's ws, Go's net set
    TCP_NODELAY). asyncio sets it only on sockets made with proto IPPROTO_TCP; on one made with
    proto 0 (a listening socket made by hand) Nagle held a frame's tail until the previous
    small frame was acknowledged: up to one round trip per relayed message."""
    sock = conn.transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _send(conn: ServerConnection, frame: dict[str, Any]) -> bool:
    return await _send_text(conn, json.dumps(frame))


async def _send_text(conn: ServerConnection, text: str) -> bool:
    if conn.state is not State.OPEN:
        # closing (its keepalive timed out, or it was replaced): a send would wait for its close
        # handshake, holding up every frame the sending peer sends after this one
        return False
    try:
        # a half-dead connection stops draining; give up on it instead of stalling the room
        await asyncio.wait_for(conn.send(text), timeout=SEND_TIMEOUT_S)
        return True
    except (ConnectionClosed, TimeoutError):
        return False


def _remote(conn: ServerConnection) -> str:
    addr = conn.remote_address
    return f"{addr[0]}:{addr[1]}" if addr else "?"


async def _serve_forever(host: str, port: int) -> None:
    server = SignalingServer(host, port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # one line on stdout tells a parent process the server is ready and where
    print(json.dumps({"event": "signaling-server-ready", "url": server.url}), flush=True)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.rtc.signaling.server", description=__doc__)
    parser.add_argument("--host", required=True, help="address to bind (an address of this topology host)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.host, args.port))


if __name__ == "__main__":
    main()
