"""WebSocket signaling client that survives network changes and resumes its session.

It joins (room, peer) on a SignalingServer and keeps doing so: when the connection dies (keepalive
pings unanswered after a link down or address change, an outage window, the server restarting)
it reconnects with exponential backoff under the same peer name. Messages sent meanwhile wait in
the reliability layer and go out, in order, once a path exists again; duplicates are dropped by id.

A reconnect costs what the new path physically needs and no more: the messages waiting go out
right behind the join, in the same flight (the server handles a connection's frames in order, so
they cannot overtake it), not a round trip later when the join is answered; and a host that
watches its network calls `network_changed()` on each address/link/route event, which reconnects
at once when the route to the server no longer leaves from the connection's address (and cuts
a backoff short when a route appears), instead of waiting for keepalives to time out. The new
connection's TCP handshake starts at that event: it does not wait for the old connection's
teardown (its tasks, the "disconnected" state) to run on a loop busy with the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from lab.route_source import route_source
from lab.rtc.signaling.channel import SignalingChannel
from lab.rtc.signaling.impairments import ImpairedPath, LinkClock, SignalingImpairments
from lab.rtc.signaling.reliable import Frame, ReliableSession

log = logging.getLogger("lab.rtc.signaling.client")


class ReconnectBackoff(BaseModel):
    """Delay before reconnect attempt n: min(max_s, initial_s * factor**n), +- jitter fraction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_s: float = Field(default=0.1, gt=0)
    factor: float = Field(default=2.0, ge=1)
    max_s: float = Field(default=2.0, gt=0)
    jitter: float = Field(default=0.2, ge=0, le=1)

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.max_s, self.initial_s * self.factor**attempt)
        return max(0.0, base * (1 + rng.uniform(-self.jitter, self.jitter)))


class Keepalive(BaseModel):
    """How fast a dead connection is noticed: a ping every interval, dead after timeout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ping_interval_s: float = Field(default=1.0, gt=0)
    ping_timeout_s: float = Field(default=2.0, gt=0)
    open_timeout_s: float = Field(default=3.0, gt=0)


class SignalingClientConfig(BaseModel):
    """Everything a peer needs to reach its signaling session (validated at the edge)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^wss?://")
    room: str = Field(min_length=1)
    peer: str = Field(min_length=1)
    impairments: SignalingImpairments = SignalingImpairments()
    backoff: ReconnectBackoff = ReconnectBackoff()
    keepalive: Keepalive = Keepalive()
    retransmit_s: float = Field(default=0.5, gt=0)


class SignalingClient(SignalingChannel):
    """A SignalingChannel over WebSocket. Events: "message", "state" (connected/disconnected)."""

    def __init__(self, config: SignalingClientConfig) -> None:
        super().__init__()
        self.config = config
        self.peer = config.peer
        self.session = ReliableSession(config.peer, self._transmit, self._deliver, retransmit_s=config.retransmit_s)
        self.clock = LinkClock(config.impairments.outages)
        rng = random.Random(config.impairments.seed)
        self._backoff_rng = random.Random(rng.random())
        self._out_path = ImpairedPath(config.impairments, self._enqueue, self.clock, random.Random(rng.random()))
        self._in_path = ImpairedPath(config.impairments, self.session.on_frame, self.clock, random.Random(rng.random()))
        self._outbox: asyncio.Queue[str] | None = None
        self._ws: ClientConnection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._skip_backoff = False
        self._path_dead = False  # reconnect_now: the current path is gone, do not close gracefully
        self._attempt: asyncio.Task[None] | None = None
        self._attempt_source: str | None = None  # the address an attempt in flight leaves from
        # reconnect_now's connection, opening while the old one is torn down; the next attempt's
        self._preopened: asyncio.Task[ClientConnection] | None = None
        self._preopened_source: str | None = None
        self._wake = asyncio.Event()
        self.connects = 0
        self.last_error: str | None = None

    @classmethod
    def create(cls, url: str, room: str, peer: str, **options: Any) -> SignalingClient:
        return cls(SignalingClientConfig(url=url, room=room, peer=peer, **options))

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        """Start connecting in the background (returns at once; see wait_connected)."""
        if self._runner is None:
            self.clock.restart()
            self.session.start()
            self._runner = asyncio.get_running_loop().create_task(self._run(), name=f"signaling-{self.peer}")

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def close(self) -> None:
        self._closing = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.send(json.dumps({"t": "leave"})), 1.0)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        await self._discard_preopened()
        self._out_path.cancel()
        self._in_path.cancel()
        await self.session.stop()

    def begin_outage(self, duration_s: float | None = None) -> None:
        """Kill this client's link to the server now (for duration_s, or until end_outage)."""
        self.clock.begin_outage(duration_s)

    def end_outage(self) -> None:
        self.clock.end_outage()

    def reconnect_now(self) -> None:
        """The network changed (handover, new address): abandon the path and reconnect at once.

        The old path is known dead, so no close handshake is waited for (it would only time out):
        the transport is aborted, an attempt still connecting over it is cancelled, a backoff
        sleep is cut short. The session (unacked messages, sequence numbers, dedupe) carries on.
        """
        self._skip_backoff = True
        self._path_dead = True
        self.last_error = "network changed"
        ws = self._ws
        if ws is not None:
            ws.transport.abort()
        elif self._attempt is not None and not self._attempt.done():
            self._attempt.cancel()
        self._wake.set()
        if self._runner is not None and not self._closing and self.clock.seconds_until_alive() <= 0:
            # the SYN leaves now (the task's first step), not after the teardown above has run
            self._drop_preopened()
            self._preopened_source = self._route_source()
            self._preopened = asyncio.get_running_loop().create_task(self._open())

    def network_changed(self) -> bool:
        """The host's links, addresses or routes changed (a netlink event): act on it now.

        Connected: reconnect at once (reconnect_now) if the route to the server no longer leaves
        from the connection's local address (its interface or address is gone, or the default
        route moved), else keep the connection. Not connected: an attempt leaving from another
        address than the route's now is restarted; a backoff sleep is cut short, so a route that
        appears is used at once. Returns True when it started a new connection attempt."""
        source = self._route_source()
        ws = self._ws
        if ws is not None:
            local = ws.local_address
            if source is not None and local is not None and local[0] == source:
                return False
            self.reconnect_now()
            return True
        if self._attempt is not None and not self._attempt.done():
            if source is None or source == self._attempt_source:
                return False
            self.reconnect_now()
            return True
        if self._preopened is not None and not self._preopened.done():
            if source is None or source == self._preopened_source:
                return False
            self.reconnect_now()
            return True
        if source is None:
            return False  # no route yet: the next event that brings one wakes the loop
        self._skip_backoff = True
        self._wake.set()
        return True

    def _route_source(self) -> str | None:
        return route_source(self.config.url)

    async def __aenter__(self) -> SignalingClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _transmit(self, frame: Frame) -> None:
        self._out_path.send(frame)

    def _enqueue(self, frame: Frame) -> None:
        if self._outbox is not None and self._ws is not None:
            self._outbox.put_nowait(json.dumps(frame))
        # else: not connected; the reliability layer sends it again after reconnecting

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            wait = self.clock.seconds_until_alive()
            if wait > 0:
                await asyncio.sleep(min(wait, 0.1))
                continue
            self._path_dead = self._skip_backoff = False
            self._wake.clear()
            preopened, self._preopened = self._preopened, None
            self._attempt_source = self._preopened_source if preopened is not None else self._route_source()
            self._attempt = asyncio.get_running_loop().create_task(self._connect_once(preopened))
            try:
                try:
                    await asyncio.wait([self._attempt])
                except asyncio.CancelledError:  # close(): let the attempt say goodbye first
                    self._attempt.cancel()
                    await asyncio.wait([self._attempt])
                    raise
                if not self._attempt.cancelled():
                    self._attempt.result()
                attempt = 0
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, ValueError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.info("signaling %s: connection failed or lost: %s", self.peer, self.last_error)
            except InvalidURI as exc:
                self.last_error = str(exc)
                log.error("signaling %s: bad URL %s", self.peer, self.config.url)
                return
            if self._closing:
                return
            if self._skip_backoff:
                self._skip_backoff = False
                attempt = 0
                continue
            delay = self.config.backoff.delay(attempt, self._backoff_rng)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)  # reconnect_now cuts it short

    async def _open(self) -> ClientConnection:
        ka = self.config.keepalive
        return await connect(
            self.config.url,
            proxy=None,  # lab traffic goes to the lab's own server only, never through a proxy
            compression=None,
            open_timeout=ka.open_timeout_s,
            ping_interval=ka.ping_interval_s,
            ping_timeout=ka.ping_timeout_s,
            close_timeout=1.0,
        )

    def _drop_preopened(self) -> None:
        """Abandon a connection reconnect_now started (another network change superseded it)."""
        task, self._preopened = self._preopened, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        elif not task.cancelled() and task.exception() is None:
            task.result().transport.abort()

    async def _discard_preopened(self) -> None:
        task = self._preopened
        self._drop_preopened()
        if task is not None:
            with contextlib.suppress(BaseException):
                await task

    async def _connect_once(self, preopened: asyncio.Task[ClientConnection] | None = None) -> None:
        ka = self.config.keepalive
        try:
            ws = await (preopened if preopened is not None else self._open())
        except asyncio.CancelledError:
            if preopened is not None and not preopened.done():
                preopened.cancel()
            raise
        outbox: asyncio.Queue[str] = asyncio.Queue()
        writer = asyncio.get_running_loop().create_task(self._write(ws, outbox))
        try:
            join = {"t": "join", "room": self.config.room, "peer": self.peer, "inc": self.session.incarnation}
            await ws.send(json.dumps(join))
            # what waits goes out now, behind the join in the same flight, not after its reply
            self._ws, self._outbox = ws, outbox
            self.session.resend_unacked()
            reply = json.loads(await asyncio.wait_for(ws.recv(), ka.open_timeout_s))
            if reply.get("t") == "error":
                raise ValueError(f"server refused join: {reply.get('reason')}")
            if reply.get("t") != "joined":
                raise ValueError(f"unexpected reply to join: {reply!r}")
            await self._serve(ws)
        finally:
            writer.cancel()
            await asyncio.wait([writer])
            if not writer.cancelled():
                writer.exception()  # the connection's own error, raised where it was read
            await self._drop_connection(ws)

    async def _serve(self, ws: ClientConnection) -> None:
        self.connects += 1
        self._connected.set()
        log.info("signaling %s: connected to %s (connect #%d)", self.peer, self.config.url, self.connects)
        self._state("connected", connects=self.connects)
        helpers = [asyncio.get_running_loop().create_task(self._watch_outage(ws))]
        try:
            async for raw in ws:
                if self.clock.dead():
                    break
                frame = json.loads(raw)
                kind = frame.get("t")
                if kind in ("msg", "ack"):
                    self._in_path.send(frame)
                elif kind == "presence" and frame.get("present"):
                    # the other peer (re)connected: it may have missed what we sent
                    self.session.resend_unacked()
        finally:
            for task in helpers:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _watch_outage(self, ws: ClientConnection) -> None:
        while not self.clock.dead():
            await asyncio.sleep(0.05)
        self.last_error = "signaling outage"
        await ws.close(4503, "signaling outage")

    async def _write(self, ws: ClientConnection, outbox: asyncio.Queue[str]) -> None:
        while True:
            text = await outbox.get()
            if self.clock.dead():
                continue
            await ws.send(text)

    async def _drop_connection(self, ws: ClientConnection) -> None:
        was_connected = self._connected.is_set() and self._ws is ws
        self._ws = None
        self._outbox = None
        self._connected.clear()
        if self._path_dead:
            ws.transport.abort()
        else:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 1.0)
        if was_connected:
            log.info("signaling %s: disconnected", self.peer)
            self._state("disconnected", reason=self.last_error)
