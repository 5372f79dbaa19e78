"""A small typed client of the Janus API over its WebSocket transport (subprotocol janus-protocol).

    async with await JanusClient.connect("ws://198.51.100.5:8188") as janus:
        session = await janus.create_session()
        handle = await session.attach("janus.plugin.videoroom")
        reply = await handle.message({"request": "join", ...})            # plugin event (+ jsep)
        reply = await handle.message({"request": "configure"}, jsep=offer)
        await handle.trickle(candidate)                                   # or trickle(None): done
        event = await handle.events.get()                                 # webrtcup, hangup, ...

Requests are matched to answers by transaction. A plugin `message` is acknowledged first (`ack`)
and answered later by an `event` with the same transaction: `message()` returns that event. The
session is kept alive with `keepalive` every `keepalive_s`.

A client that loses its socket (its network changed under it: a handover; or WebSocket pings
unanswered) opens a new one and `claim`s its sessions on it (Janus keeps a session whose socket
went for its reclaim_session_timeout). When that fails (Janus killed: nothing listens; Janus
restarted: it no longer knows the session) the session is gone for good: every waiting request
raises JanusGone, and `closed` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Subprotocol

from lab.route_source import route_source

SUBPROTOCOL = Subprotocol("janus-protocol")
REQUEST_TIMEOUT_S = 10.0
PING_S = 1.0
# called with "reconnecting" (and why), "reclaimed", "gone" (and why)
StateCallback = Callable[[str, str | None], None]


class JanusApiError(Exception):
    """Janus answered `error` (or a plugin answered with an `error` field)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}" if code is not None else reason)
        self.code = code
        self.reason = reason


class JanusGone(Exception):
    """The WebSocket to Janus closed: its session and handles are gone with it."""


@dataclass(frozen=True)
class PluginEvent:
    """A plugin's answer or event: its data, and the SDP it carries (type, sdp) if any."""

    sender: int
    data: dict[str, Any]
    jsep: dict[str, Any] | None = None

    @property
    def error(self) -> str | None:
        value = self.data.get("error")
        return str(value) if value is not None else None


@dataclass(frozen=True)
class HandleEvent:
    """Anything Janus says about a handle unasked: webrtcup, media, hangup, slowlink, trickle,
    detached, or a plugin event without a transaction of ours."""

    kind: str
    body: dict[str, Any]


@dataclass
class Handle:
    session: Session
    id: int
    plugin: str
    events: asyncio.Queue[HandleEvent] = field(default_factory=asyncio.Queue)

    async def message(self, body: dict[str, Any], jsep: dict[str, Any] | None = None,
                      timeout: float = REQUEST_TIMEOUT_S) -> PluginEvent:
        """Send a plugin request; the plugin's answer (synchronous `success` or the `event`
        after an `ack`). A plugin-level error raises JanusApiError."""
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        answer = await self.session.client.request(request, session_id=self.session.id, handle_id=self.id,
                                                   timeout=timeout, until_event=True)
        plugin = answer.get("plugindata", {})
        event = PluginEvent(sender=self.id, data=dict(plugin.get("data", {})), jsep=answer.get("jsep"))
        if event.error is not None:
            raise JanusApiError(event.data.get("error_code"), event.error)
        return event

    async def trickle(self, candidate: dict[str, Any] | None) -> None:
        """One trickled candidate (RTCIceCandidateInit: candidate, sdpMid, sdpMLineIndex), or
        None: gathering completed."""
        payload = candidate if candidate is not None else {"completed": True}
        await self.session.client.request({"janus": "trickle", "candidate": payload},
                                          session_id=self.session.id, handle_id=self.id)

    async def hangup(self) -> None:
        await self.session.client.request({"janus": "hangup"}, session_id=self.session.id, handle_id=self.id)

    async def detach(self) -> None:
        await self.session.client.request({"janus": "detach"}, session_id=self.session.id, handle_id=self.id)


@dataclass
class Session:
    client: JanusClient
    id: int
    handles: dict[int, Handle] = field(default_factory=dict)

    async def attach(self, plugin: str) -> Handle:
        answer = await self.client.request({"janus": "attach", "plugin": plugin}, session_id=self.id)
        handle = Handle(self, int(answer["data"]["id"]), plugin)
        self.handles[handle.id] = handle
        return handle

    async def keepalive(self) -> None:
        await self.client.request({"janus": "keepalive"}, session_id=self.id)

    async def destroy(self) -> None:
        await self.client.request({"janus": "destroy"}, session_id=self.id)


@dataclass
class _Pending:
    future: asyncio.Future[dict[str, Any]]
    until_event: bool
    body: dict[str, Any]
    sent_on: ClientConnection | None = None


class JanusClient:
    """One WebSocket to the Janus API (replaced when lost). See the module's docstring."""

    def __init__(self, url: str, ws: ClientConnection, keepalive_s: float, reconnect_s: float,
                 on_state: StateCallback | None = None) -> None:
        self.url = url
        self.ws = ws
        self.keepalive_s = keepalive_s
        self.reconnect_s = reconnect_s
        self.sessions: dict[int, Session] = {}
        self.closed: str | None = None  # why the sessions are gone, once they are
        self._on_state = on_state or (lambda state, reason: None)
        self._pending: dict[str, _Pending] = {}
        self._connected = asyncio.Event()
        self._connected.set()
        self._closing = False
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._keepalive: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, url: str, keepalive_s: float = 15.0, reconnect_s: float = 10.0,
                      on_state: StateCallback | None = None, timeout: float = REQUEST_TIMEOUT_S) -> JanusClient:
        return cls(url, await _open(url, timeout), keepalive_s, reconnect_s, on_state)

    async def create_session(self) -> Session:
        answer = await self.request({"janus": "create"})
        session = Session(self, int(answer["data"]["id"]))
        self.sessions[session.id] = session
        if self._keepalive is None:
            self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())
        return session

    async def info(self) -> dict[str, Any]:
        return await self.request({"janus": "info"})

    async def request(self, message: dict[str, Any], *, session_id: int | None = None,
                      handle_id: int | None = None, timeout: float = REQUEST_TIMEOUT_S,
                      until_event: bool = False) -> dict[str, Any]:
        """Send one request; its answer (`success`, `server_info`, `ack`, or with `until_event`
        the plugin's `event`). `error` raises JanusApiError, gone sessions JanusGone, no answer
        within `timeout` (the socket is being replaced) TimeoutError."""
        if self.closed is not None:
            raise JanusGone(self.closed)
        transaction = secrets.token_hex(8)
        body = {**message, "transaction": transaction}
        if session_id is not None:
            body["session_id"] = session_id
        if handle_id is not None:
            body["handle_id"] = handle_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        pending = _Pending(future, until_event, body)
        self._pending[transaction] = pending
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self._connected.wait()
                    if self.closed is not None:
                        raise JanusGone(self.closed)
                    try:
                        pending.sent_on = self.ws
                        await self.ws.send(json.dumps(body))
                        break
                    except ConnectionClosed:
                        await asyncio.sleep(0.05)  # the reader replaces the socket; send again then
                return await future
        finally:
            self._pending.pop(transaction, None)

    def network_changed(self) -> bool:
        """The host's links, addresses or routes changed: drop the socket at once when the route
        to Janus no longer leaves from its local address; True when it did."""
        source = route_source(self.url)
        local = self.ws.local_address if self._connected.is_set() else None
        if local is not None and source is not None and local[0] == source:
            return False
        self.reconnect_now()
        return local is not None

    def reconnect_now(self) -> None:
        """Drop the socket at once (the network changed under it: no closing handshake on a path
        that is gone); the reader opens a new one, requests wait for it."""
        if self.closed is None and self._connected.is_set():
            self._connected.clear()
            self.ws.transport.abort()

    async def _read(self) -> None:
        reason = "closed"
        try:
            while True:
                reason = await self._read_socket(self.ws)
                if self._closing:
                    break
                self._connected.clear()
                self._on_state("reconnecting", reason)
                lost = await self._reconnect()
                if lost is not None:
                    reason = lost
                    break
                self._connected.set()
                self._on_state("reclaimed", None)
                await self._resend()
        finally:
            self.closed = self.closed or reason
            self._connected.set()
            for pending in self._pending.values():
                if not pending.future.done():
                    pending.future.set_exception(JanusGone(self.closed))
            if not self._closing:
                self._on_state("gone", self.closed)
            for session in self.sessions.values():
                for handle in session.handles.values():
                    handle.events.put_nowait(HandleEvent("gone", {"reason": self.closed}))

    async def _read_socket(self, ws: ClientConnection) -> str:
        try:
            async for raw in ws:
                self._dispatch(json.loads(raw))
        except ConnectionClosed as error:
            return f"WebSocket closed ({self._why(error)})"
        except ValueError as error:
            return f"not JSON from Janus: {error}"
        return "WebSocket closed"

    async def _reconnect(self) -> str | None:
        """A new socket with every session claimed on it; None, or why the sessions are gone."""
        deadline = time.monotonic() + self.reconnect_s
        last = "no attempt"
        while time.monotonic() < deadline:
            try:
                ws = await _open(self.url, max(0.2, min(2.0, deadline - time.monotonic())))
            except (OSError, TimeoutError, WebSocketException) as error:
                last = f"{type(error).__name__}: {error}"
                await asyncio.sleep(0.2)
                continue
            for session_id in self.sessions:
                claimed = await self._claim(ws, session_id)
                if claimed is not None:
                    await ws.close()
                    return claimed
            self.ws = ws
            return None
        return f"Janus unreachable for {self.reconnect_s:g} s after the socket closed ({last})"

    async def _resend(self) -> None:
        """Requests sent on the lost socket, unanswered: sent again on the new one (a request
        sent just before a network change never reached Janus)."""
        for pending in list(self._pending.values()):
            if pending.sent_on is not None and pending.sent_on is not self.ws and not pending.future.done():
                pending.sent_on = self.ws
                with contextlib.suppress(ConnectionClosed):
                    await self.ws.send(json.dumps(pending.body))

    async def _claim(self, ws: ClientConnection, session_id: int) -> str | None:
        transaction = secrets.token_hex(8)
        await ws.send(json.dumps({"janus": "claim", "session_id": session_id, "transaction": transaction}))
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                while True:
                    answer = json.loads(await ws.recv())
                    if answer.get("transaction") != transaction:
                        self._dispatch(answer)
                        continue
                    if answer.get("janus") == "success":
                        return None
                    error = answer.get("error", {})
                    return (f"Janus no longer knows session {session_id} (error {error.get('code')}: "
                            f"{error.get('reason')}): it was restarted or dropped it")
        except (ConnectionClosed, TimeoutError) as error:
            return f"claiming session {session_id} failed: {type(error).__name__}"

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = str(message.get("janus"))
        transaction = message.get("transaction")
        waiting = self._pending.get(transaction) if isinstance(transaction, str) else None
        if waiting is not None:
            future, until_event = waiting.future, waiting.until_event
            if future.done():
                return
            if kind == "error":
                error = message.get("error", {})
                future.set_exception(JanusApiError(error.get("code"), str(error.get("reason"))))
                return
            if kind == "ack" and until_event:
                return  # the plugin's event follows with the same transaction
            if kind in ("ack", "success", "server_info", "event"):
                future.set_result(message)
                return
        handle = self._handle_of(message)
        if handle is not None:
            handle.events.put_nowait(HandleEvent(kind, message))

    def _handle_of(self, message: dict[str, Any]) -> Handle | None:
        session = self.sessions.get(message.get("session_id", -1))
        if session is None:
            return None
        return session.handles.get(message.get("sender", -1))

    async def _keep_alive(self) -> None:
        while self.closed is None:
            await asyncio.sleep(self.keepalive_s)
            for session in list(self.sessions.values()):
                with contextlib.suppress(JanusApiError, JanusGone, TimeoutError):
                    await session.keepalive()

    @staticmethod
    def _why(error: ConnectionClosed) -> str:
        return f"code {error.rcvd.code}" if error.rcvd else "no close frame"

    async def close(self) -> None:
        self._closing = True
        for task in (self._keepalive, self._reader):
            if task is not None:
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 1.0)
        self.closed = self.closed or "closed by the client"

    async def __aenter__(self) -> JanusClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


async def _open(url: str, timeout: float) -> ClientConnection:
    # WebSocket pings find a socket whose path is gone (no close, no RST) within a few seconds
    return await connect(url, subprotocols=[SUBPROTOCOL], open_timeout=timeout, ping_interval=PING_S,
                         ping_timeout=PING_S * 2, close_timeout=1.0, max_size=2**22)
