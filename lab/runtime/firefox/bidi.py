"""A small WebDriver BiDi client on `websockets`: the commands the Firefox peer needs.

One WebSocket to Firefox's built-in remote agent (`--remote-debugging-port`, path /session),
one BiDi session. Commands are JSON objects {id, method, params}; the answer carries the same id
with `result` or `error`; events ({type: "event", method, params}) go to subscribers.
W3C WebDriver BiDi: https://w3c.github.io/webdriver-bidi/ (session, browsingContext, script).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

import websockets

log = logging.getLogger("lab.firefox.bidi")

EventHandler = Callable[[dict[str, Any]], None]


class BidiError(RuntimeError):
    """A BiDi command answered with an error, or the connection is gone."""

    def __init__(self, method: str, error: str, message: str = "") -> None:
        super().__init__(f"{method}: {error}{': ' + message if message else ''}")
        self.method = method
        self.error = error


class ScriptError(BidiError):
    """script.evaluate / script.callFunction threw in the page."""


class BidiConnection:
    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._handlers: dict[str, list[EventHandler]] = {}
        self.closed = asyncio.Event()
        self.close_reason: str | None = None
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="bidi-reader")

    @classmethod
    async def connect(cls, url: str, timeout: float = 10.0) -> BidiConnection:
        socket = await asyncio.wait_for(
            websockets.connect(url, max_size=None, ping_interval=None, open_timeout=timeout), timeout)
        return cls(socket)

    def on(self, method: str, handler: EventHandler) -> None:
        self._handlers.setdefault(method, []).append(handler)

    async def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        if self.closed.is_set():
            raise BidiError(method, "connection closed", self.close_reason or "")
        command_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        try:
            await self._socket.send(json.dumps({"id": command_id, "method": method, "params": params or {}}))
            answer = await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(command_id, None)
        if answer.get("type") == "error":
            raise BidiError(method, str(answer.get("error")), str(answer.get("message", "")))
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                message = json.loads(raw)
                if "id" in message and message.get("id") is not None:
                    future = self._pending.get(int(message["id"]))
                    if future is not None and not future.done():
                        future.set_result(message)
                elif message.get("type") == "event":
                    for handler in self._handlers.get(str(message.get("method")), []):
                        try:
                            handler(message.get("params", {}))
                        except Exception:  # a handler's bug must not stop the reader
                            log.exception("BiDi event handler for %s failed", message.get("method"))
        except websockets.ConnectionClosed as closed:
            self.close_reason = f"WebSocket closed ({closed.rcvd.code if closed.rcvd else 'no close frame'})"
        except Exception as error:  # noqa: BLE001 - recorded as the reason the connection ended
            self.close_reason = f"{type(error).__name__}: {error}"
        finally:
            self.close_reason = self.close_reason or "WebSocket closed"
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(BidiError("BiDi", "connection closed", self.close_reason))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._socket.close(), 2.0)
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader


class BidiSession:
    """A BiDi session with one top-level browsing context (the page the peer runs in)."""

    def __init__(self, connection: BidiConnection, capabilities: dict[str, Any], context: str) -> None:
        self.connection = connection
        self.capabilities = capabilities
        self.context = context

    @classmethod
    async def start(cls, connection: BidiConnection) -> BidiSession:
        new = await connection.send("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": False}}})
        tree = await connection.send("browsingContext.getTree", {"maxDepth": 0})
        contexts = tree.get("contexts", [])
        if contexts:
            context = str(contexts[0]["context"])
        else:
            context = str((await connection.send("browsingContext.create", {"type": "tab"}))["context"])
        return cls(connection, dict(new.get("capabilities", {})), context)

    @property
    def browser_version(self) -> str:
        return str(self.capabilities.get("browserVersion", "?"))

    async def subscribe(self, events: list[str]) -> None:
        await self.connection.send("session.subscribe", {"events": events})

    async def add_preload_script(self, function: str, channel: str | None = None) -> str:
        params: dict[str, Any] = {"functionDeclaration": function}
        if channel is not None:
            params["arguments"] = [{"type": "channel", "value": {"channel": channel}}]
        result = await self.connection.send("script.addPreloadScript", params)
        return str(result["script"])

    async def navigate(self, url: str, timeout: float = 30.0) -> None:
        await self.connection.send("browsingContext.navigate",
                                   {"context": self.context, "url": url, "wait": "complete"}, timeout=timeout)

    async def call_json(self, function: str, *args: Any, timeout: float = 30.0) -> Any:
        """Call `function` in the page with JSON-able arguments; its (awaited) result, which the
        function gives back as a JSON string, parsed. Arguments cross as strings and are parsed in
        the page, so no BiDi value serialisation is involved either way."""
        wrapper = ("async (...texts) => JSON.stringify(await (" + function + ")(...texts.map(t => JSON.parse(t))))"
                   " ?? null")
        result = await self.connection.send("script.callFunction", {
            "functionDeclaration": wrapper, "awaitPromise": True, "target": {"context": self.context},
            "arguments": [{"type": "string", "value": json.dumps(arg)} for arg in args],
        }, timeout=timeout)
        return json.loads(_result_value("script.callFunction", result))

    async def evaluate_number(self, expression: str, timeout: float = 10.0) -> float:
        result = await self.connection.send("script.evaluate", {
            "expression": expression, "awaitPromise": False, "target": {"context": self.context},
        }, timeout=timeout)
        return float(_result_value("script.evaluate", result))

    async def end(self) -> None:
        with contextlib.suppress(Exception):
            await self.connection.send("session.end", timeout=2.0)


def _result_value(method: str, result: dict[str, Any]) -> Any:
    if result.get("type") == "exception":
        details = result.get("exceptionDetails", {})
        raise ScriptError(method, "javascript error", str(details.get("text", details)))
    value = result.get("result", {})
    if value.get("type") in ("null", "undefined"):
        return "null"
    return value.get("value")
