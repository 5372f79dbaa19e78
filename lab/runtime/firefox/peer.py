"""One Firefox peer: the browser, its BiDi session, the page, and the same bridge to the control
channel as the Chromium peer (lab.runtime.chromium.peer.BrowserPeer, whose event, clock and
command handling it inherits)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from typing import Any

from lab.runtime.chromium.peer import BrowserPeer
from lab.runtime.firefox import KIND
from lab.runtime.firefox.bidi import BidiConnection, BidiError, BidiSession
from lab.runtime.firefox.bidipage import BidiPage
from lab.runtime.firefox.browser import Firefox, launch, new_profile_dir
from lab.runtime.firefox.page import PageServer

log = logging.getLogger("lab.firefox")
console_log = logging.getLogger("lab.firefox.page")

CHANNEL = "icelab"
# window.icelabEmit, as Playwright's expose_function gives it to Chromium: the page's event
# batches leave through a BiDi channel (script.message events)
EMIT_PRELOAD = ("(channel) => { window.icelabEmit = batch => { channel(JSON.stringify(batch)); "
                "return Promise.resolve(); }; }")
LIVENESS_INTERVAL_S = 2.0
LIVENESS_TIMEOUT_S = 15.0


class FirefoxPeer(BrowserPeer):
    kind = KIND
    detection = "firefox-builtin"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.firefox: Firefox | None = None
        self.connection: BidiConnection | None = None
        self.session: BidiSession | None = None
        self.server = PageServer()

    async def load(self) -> None:
        try:
            await self._load()
        except Exception as error:
            raise await self._explained(error) from error

    async def start(self) -> None:
        try:
            await super().start()
        except Exception as error:
            raise await self._explained(error) from error
        self._spawn(self._liveness())

    async def _explained(self, error: Exception) -> Exception:
        """A BiDi call that failed because Firefox died says so (its exit code), not 'connection closed'."""
        if self.firefox is None or not isinstance(error, BidiError):
            return error
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.firefox.process.wait(), 1.0)
        code = self.firefox.process.returncode
        return RuntimeError(f"Firefox exited with code {code}") if code is not None else error

    async def _load(self) -> None:
        t0 = time.monotonic()
        profile = new_profile_dir(self.config.trial_id, self.config.role)
        await self.server.start()
        self.firefox = self.browser = await launch(profile)  # type: ignore[assignment]
        self._spawn(self._watch_process(self.firefox))
        self.connection = await BidiConnection.connect(self.firefox.url)
        self.session = await BidiSession.start(self.connection)
        self.firefox.version = self.session.browser_version
        self.timings["launch_s"] = time.monotonic() - t0
        self.connection.on("script.message", self._on_message)
        self.connection.on("log.entryAdded", self._on_log_entry)
        await self.session.subscribe(["script.message", "log.entryAdded"])
        await self.session.add_preload_script(EMIT_PRELOAD, channel=CHANNEL)
        await self.session.navigate(self.server.page_url)
        if await self.session.call_json("() => typeof window.icelab") != "object":
            raise RuntimeError("the peer page did not load (window.icelab missing)")
        self.page = BidiPage(self.session)
        self._spawn(self._watch_connection(self.connection))
        self.timings["page_s"] = time.monotonic() - t0
        await self._sync_clock()
        self.control.emit("browser_ready", pid=os.getpid(), version=self.firefox.version, browser_pid=self.firefox.process.pid,
                          profile=str(profile), launch_ms=self.timings["launch_s"] * 1000.0,
                          page_ms=self.timings["page_s"] * 1000.0)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        for task in list(self._tasks):
            task.cancel()
        if self.session is not None and not self.connection.closed.is_set():  # type: ignore[union-attr]
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.session.call_json("() => window.icelab.stop()"), 1.0)
                await asyncio.sleep(0.05)  # the last event batch
            await self.session.end()
        if self.connection is not None:
            await self.connection.close()
        if self.firefox is not None:
            await self.firefox.close()
            self.firefox = self.browser = None
        await self.server.close()

    # ----- failure detection: the process, the BiDi connection, a page that stops answering

    async def _watch_process(self, firefox: Firefox) -> None:
        code = await firefox.process.wait()
        self._fail(f"Firefox exited with code {code}")

    async def _watch_connection(self, connection: BidiConnection) -> None:
        await connection.closed.wait()
        if self.firefox is not None:  # the socket usually closes a moment before the exit is reaped
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.firefox.process.wait(), 1.0)
            if self.firefox.process.returncode is not None:
                self._fail(f"Firefox exited with code {self.firefox.process.returncode}")
                return
        self._fail(f"BiDi connection to Firefox lost: {connection.close_reason}")

    async def _liveness(self) -> None:
        assert self.session is not None
        while True:
            await asyncio.sleep(LIVENESS_INTERVAL_S)
            try:
                await self.session.evaluate_number("1", timeout=LIVENESS_TIMEOUT_S)
            except Exception as error:  # noqa: BLE001 - any failure means the page is gone
                self._fail(f"the page stopped answering: {error}")
                return

    # ----- the page's messages ----------------------------------------------------------

    def _on_message(self, params: dict[str, Any]) -> None:
        if params.get("channel") != CHANNEL:
            return
        data = params.get("data", {})
        if data.get("type") == "string":
            self._on_page_events(json.loads(data["value"]))

    def _on_log_entry(self, params: dict[str, Any]) -> None:
        console_log.info("console.%s: %s", params.get("level"), params.get("text"))
