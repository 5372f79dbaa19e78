"""One browser peer: the Chromium, its page, and the bridge between the page and the control
channel (events out with monotonic timestamps, commands in)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

from lab.contract import (
    AgentConfig,
    Command,
    NetworkChange,
    Ping,
    Restart,
    Signal,
    SignalingOutage,
    Stop,
    is_event_kind,
)
from lab.runtime.agent.control import ControlChannel
from lab.runtime.chromium import KIND, clock
from lab.runtime.chromium.browser import Browser, launch, new_profile_dir
from lab.runtime.chromium.interfaces import InterfaceOf
from lab.runtime.chromium.network import SignalingRoute, server_url
from lab.runtime.chromium.page import open_page

log = logging.getLogger("lab.chromium")
page_log = logging.getLogger("lab.chromium.page")

CLOCK_RESYNC_S = 10.0


class BrowserPeer:
    kind = KIND                      # peer_kind in agent_ready
    detection = "chromium-builtin"   # the browser's own 'disconnected'/'failed' timers

    def __init__(self, config: AgentConfig, control: ControlChannel) -> None:
        self.config = config
        self.control = control
        self.browser: Browser | None = None
        self.page: Any = None
        self.offset: clock.ClockOffset | None = None
        self.failed = asyncio.Event()
        self.failure: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watcher: Any = None
        self.timings: dict[str, float] = {}
        self._interface_of = InterfaceOf()
        self._route: SignalingRoute | None = None

    # ----- lifecycle --------------------------------------------------------------------

    async def load(self) -> None:
        """Launch the browser and load the page (before the orchestrator says start)."""
        t0 = time.monotonic()
        profile = new_profile_dir(self.config.trial_id, self.config.role)
        self.browser = await launch(profile)
        self.timings["launch_s"] = time.monotonic() - t0
        context = self.browser.context
        context.on("close", lambda *_: self._fail("browser closed"))
        self.page = await open_page(context, self._on_page_events)
        self.page.on("crash", lambda *_: self._fail("page crashed"))
        self.page.on("console", self._on_console)
        self.timings["page_s"] = time.monotonic() - t0
        await self._sync_clock()
        self.control.emit("browser_ready", pid=os.getpid(), version=self.browser.version,
                          profile=str(profile), launch_ms=self.timings["launch_s"] * 1000.0,
                          page_ms=self.timings["page_s"] * 1000.0)

    async def start(self) -> None:
        c = self.config
        assert self.page is not None
        page_config = c.model_dump(mode="json")
        info = await self.page.evaluate("config => window.icelab.start(config)", page_config)
        assert self.offset is not None
        self.control.emit("agent_ready", host=c.host, pid=os.getpid(), role=c.role, polite=c.polite,
                          restarts=c.restarts, policy=c.policy.name, restartable=True, peer_kind=self.kind,
                          browser=self.browser.version if self.browser else None,
                          user_agent=info.get("userAgent"), detection=self.detection,
                          clock_offset_s=self.offset.offset_s, clock_uncertainty_ms=self.offset.uncertainty_ms)
        url = server_url(c)
        if url is not None:
            self._route = SignalingRoute(url)
        if c.watch_network or self._route is not None:
            from lab.runtime.agent.netwatch import NetworkWatcher

            # as an app's OS tells it: a policy that does not act on network changes still has
            # a page whose signaling socket follows the network (lab.runtime.chromium.network)
            self._watcher = NetworkWatcher(asyncio.get_running_loop(), self._on_network_change)
            self._watcher.start()
        self._spawn(self._resync_clock())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        for task in list(self._tasks):
            task.cancel()
        if self.page is not None and not self.page.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.page.evaluate("() => window.icelab.stop()"), 1.0)
                await asyncio.sleep(0.03)  # the last event batch
        if self.browser is not None:
            await self.browser.close()
            self.browser = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
            self.failed.set()

    # ----- clock ------------------------------------------------------------------------

    async def _sync_clock(self) -> None:
        assert self.page is not None
        measured = await clock.measure(self.page)
        if self.offset is None or measured.uncertainty_ms < self.offset.uncertainty_ms:
            self.offset = measured
        self.control.emit("clock_sync", offset_s=measured.offset_s, uncertainty_ms=measured.uncertainty_ms,
                          rtt_ms=measured.rtt_ms, rounds=measured.rounds, used_offset_s=self.offset.offset_s,
                          used_uncertainty_ms=self.offset.uncertainty_ms)

    async def _resync_clock(self) -> None:
        while True:
            await asyncio.sleep(CLOCK_RESYNC_S)
            with contextlib.suppress(Exception):
                await self._sync_clock()

    # ----- the page's events ------------------------------------------------------------

    def _on_page_events(self, batch: list[dict[str, Any]]) -> None:
        offset = self.offset
        for event in batch:
            kind = event.pop("kind", None)
            page_ms = event.pop("tp", None)
            if kind is None:
                continue
            if kind == "log":
                page_log.info("%s", event.get("line"))
                continue
            t = offset.to_monotonic(float(page_ms)) if offset is not None and page_ms is not None else None
            if not is_event_kind(kind):  # the page speaks strings: only the contract's kinds pass
                log.warning("the page reported an event of unknown kind %r", kind)
                self.control.emit("error", t=t, message=f"the page reported an event of unknown kind {kind!r}")
                continue
            if kind == "candidate_sent" and event.get("type") and event.get("interface") is None:
                event["interface"] = self._interface_of.of_candidate(event)
            if kind in ("signaling_channel", "sfu_session") and self._route is not None:
                self._route.on_channel_state(event.get("state"))
            self.control.emit(kind, t=t, **event)

    def _on_console(self, message: Any) -> None:
        with contextlib.suppress(Exception):
            page_log.info("console.%s: %s", message.type, message.text)

    def _on_network_change(self, info: dict[str, Any]) -> None:
        """A netlink event of the peer's namespace (the aiortc agent's rule): the policy hears of
        it when it watches the network; the signaling socket moves whatever the policy."""
        policy = self.config.watch_network
        if policy:
            self.control.emit("network_change", **info)
        signaling = self._route is not None and self._route.must_reconnect()
        if signaling:
            self.control.emit("signaling_reconnect", reason="network-change")
        policy = policy and bool(info.get("changed", True))  # an event that changed nothing more: no restart
        if policy or signaling:
            self._spawn(self._command_page(NetworkChange(policy=policy, signaling=signaling,
                                                          settled=bool(info.get("settled")))))

    async def _command_page(self, command: Command) -> None:
        if self.page is None or self.page.is_closed():
            return
        try:
            await self.page.evaluate("command => window.icelab.command(command)", command.to_wire())
        except Exception as exc:
            log.warning("page command %s failed: %s", command.kind, exc)

    # ----- commands from the orchestrator -----------------------------------------------

    async def command(self, cmd: Command) -> bool:
        """Handle one command; False once the agent should exit."""
        if isinstance(cmd, Stop):
            return False
        if isinstance(cmd, Ping):
            self.control.emit("pong", t_sent=cmd.t, at=time.monotonic())
        elif isinstance(cmd, (Signal, SignalingOutage, Restart)):
            await self._command_page(cmd)
        return True
