"""Waiting for a channel's messages in the signaling tests."""

from __future__ import annotations

import asyncio
from typing import Any


async def collect(channel: Any, n: int, timeout: float = 20.0) -> list[dict]:
    """The first `n` messages the channel delivers from now on (TimeoutError after `timeout`)."""
    got: list[dict] = []
    done = asyncio.Event()

    def on_message(body: dict) -> None:
        got.append(body)
        if len(got) >= n:
            done.set()

    channel.on("message", on_message)
    await asyncio.wait_for(done.wait(), timeout)
    return got
