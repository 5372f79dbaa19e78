"""Network-change events of the agent's own namespace (pyroute2 rtnetlink multicast groups).

A thread blocks on the netlink socket and hands each relevant message to the asyncio loop:
address added/removed, link up/down, default route changed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.rtnl import (
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_IPV6_IFADDR,
    RTMGRP_LINK,
)

Callback = Callable[[dict[str, Any]], None]


def describe(message: Any) -> dict[str, Any] | None:
    event = message.get("event")
    if event in ("RTM_NEWADDR", "RTM_DELADDR"):
        return {"event": event, "ifindex": message.get("index"), "address": message.get_attr("IFA_ADDRESS")}
    if event in ("RTM_NEWLINK", "RTM_DELLINK"):
        return {"event": event, "ifindex": message.get("index"), "ifname": message.get_attr("IFLA_IFNAME"),
                "operstate": message.get_attr("IFLA_OPERSTATE")}
    if event in ("RTM_NEWROUTE", "RTM_DELROUTE") and message.get("dst_len") == 0:
        return {"event": event, "default_route": True, "gateway": message.get_attr("RTA_GATEWAY")}
    return None


class NetworkWatcher:
    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callback) -> None:
        self._loop = loop
        self._callback = callback
        self._ipr: IPRoute | None = None
        self._ready = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="netwatch", daemon=True)

    def start(self) -> None:
        """Returns once the netlink socket listens (pyroute2 must not run in the loop's thread)."""
        self._thread.start()
        self._ready.wait(5.0)

    def _run(self) -> None:
        try:
            self._ipr = IPRoute()
            self._ipr.bind(groups=RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE)
        finally:
            self._ready.set()
        while not self._stopped:
            try:
                messages = self._ipr.get()
            except Exception:  # socket closed by stop()
                return
            for message in messages:
                info = describe(message)
                if info is not None and not self._stopped:
                    self._loop.call_soon_threadsafe(self._callback, info)

    def stop(self) -> None:
        self._stopped = True
        try:
            if self._ipr is not None:
                self._ipr.close()
        except Exception:
            pass
