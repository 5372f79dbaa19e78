"""Restart policies: when a peer restarts, given its connection's states and network events.

The policy decides; the session performs the action (restartIce, a legacy iceRestart offer, or
a full reconnect). Nothing fires before the call first connected. One restart at a time: once a
restart fired, further triggers are ignored until the call is connected again; if it is not
connected within retry_s, the policy restarts again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from lab.contract import Policy

Perform = Callable[[str], Awaitable[None]]
CONNECTED = ("connected", "completed")


class RestartPolicy:
    def __init__(self, spec: Policy, active: bool, perform: Perform) -> None:
        self.spec = spec
        self.active = active and spec.ever_restarts
        self._perform = perform
        self._was_connected = False
        self._connected = False
        self._restarting = False
        self._pending: asyncio.Task[None] | None = None
        self._retry: asyncio.Task[None] | None = None

    def on_state(self, state: str) -> None:
        """Feed every ICE connection state (and connection state) change."""
        if state in CONNECTED:
            self._was_connected = self._connected = True
            self._restarting = False
            self._cancel_pending()
            self._cancel_retry()
            return
        self._connected = False
        if not self.active or not self._was_connected:
            return
        if state == "disconnected" and self.spec.trigger == "disconnected":
            self._schedule(self.spec.grace_s, "disconnected", cancel_if_connected=True)
        elif state == "failed" and (self.spec.trigger in ("failed", "disconnected") or self.spec.also_on_failed):
            self._cancel_pending()
            self._fire("failed")

    def on_new_pair(self) -> None:
        """A new candidate pair was selected: a restart under way has completed (a make-before-
        break restart never leaves 'connected', so the states alone would not tell)."""
        if self._restarting and self._connected:
            self._restarting = False
            self._cancel_retry()

    def on_network_change(self, settled: bool = False) -> None:
        """A network event. `settled`: it left the host with its new default route and that
        route's address in place (a standby handover: LTE up and addressed before Wi-Fi went),
        so there is nothing to settle: restart at once. Otherwise wait network_settle_s after
        the first event of the burst (cold/gap: the new route is still coming up); an event
        during that wait that finds the route settled restarts at once."""
        if not (self.active and self._was_connected and self.spec.trigger == "network-change"):
            return
        if settled and self._pending is not None and not self._pending.done():
            self._cancel_pending()
        self._schedule(0.0 if settled else self.spec.network_settle_s, "network-change",
                       cancel_if_connected=False)

    def _schedule(self, delay: float, reason: str, cancel_if_connected: bool) -> None:
        if self._restarting or (self._pending is not None and not self._pending.done()):
            return
        if delay <= 0:
            self._fire(reason)
            return

        async def later() -> None:
            await asyncio.sleep(delay)
            if not (cancel_if_connected and self._connected):
                self._fire(reason)

        self._pending = asyncio.get_running_loop().create_task(later())

    def _fire(self, reason: str, retry: bool = False) -> None:
        if self._restarting and not retry:
            return
        self._restarting = True
        self._cancel_retry()

        async def run() -> None:
            await self._perform(reason)
            self._arm_retry()

        asyncio.get_running_loop().create_task(run())

    def _arm_retry(self) -> None:
        async def retry() -> None:
            await asyncio.sleep(self.spec.retry_s)
            if not self._connected:
                self._fire("retry", retry=True)

        self._retry = asyncio.get_running_loop().create_task(retry())

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    async def close(self) -> None:
        for task in (self._pending, self._retry):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
