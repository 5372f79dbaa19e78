"""The server while both peers leave at once (teardown): presence broadcasts must not break."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from websockets.asyncio.client import connect

import lab.rtc.signaling.server as server_module
from lab.rtc.signaling import SignalingServer


async def _join(url: str, room: str, peer: str):
    ws = await connect(url, proxy=None, compression=None)
    await ws.send(json.dumps({"t": "join", "room": room, "peer": peer, "inc": "x"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["t"] == "joined"
    return ws


async def test_both_peers_leaving_at_once_breaks_no_presence_broadcast(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Loopback sends complete without yielding, so the interleaving a real network produces at
    # teardown (a presence frame still being sent while the other peer's leave is handled) is
    # made certain here by letting every server-side frame send yield for a moment first.
    real_send = server_module._send

    async def slow_send(conn, frame):
        await asyncio.sleep(0.05)
        return await real_send(conn, frame)

    caplog.set_level(logging.ERROR, logger="lab.rtc.signaling.server")
    async with SignalingServer("127.0.0.1", 0) as server:
        a = await _join(server.url, "teardown", "alice")
        b = await _join(server.url, "teardown", "bob")
        monkeypatch.setattr(server_module, "_send", slow_send)
        await a.send(json.dumps({"t": "leave"}))
        await asyncio.sleep(0.01)  # alice's leave is being broadcast to bob
        await b.send(json.dumps({"t": "leave"}))
        for _ in range(200):
            if "teardown" not in server._rooms:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        await a.close()
        await b.close()
        await asyncio.sleep(0.1)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() + str(r.exc_info and r.exc_info[1]) for r in errors]
    assert "teardown" not in server._rooms
