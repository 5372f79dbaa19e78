"""Network-change events of the agent's own namespace (pyroute2 rtnetlink multicast groups).

A thread blocks on the netlink socket and hands each relevant message to the asyncio loop:
address added/removed, link up/down, default route changed. Each carries `settled`: whether the
event left the host with its new default route in place (`default_route_settled`), read from
the kernel as the event is handed on; and `changed`: whether the host's network (its usable
interfaces and the interface of its best default route) differs from what the previous event
left. One handover is a burst of events (link, address, routes); only those that change the
network are a network change to an app (a policy restarts once per change, not per event).
"""

from __future__ import annotations

import asyncio
import socket
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

from lab.runtime.agent.interfaces import usable_ipv4_interfaces

Callback = Callable[[dict[str, Any]], None]


def describe(message: Any) -> dict[str, Any] | None:
    event = message.get("event")
    if event in ("RTM_NEWADDR", "RTM_DELADDR"):
        return {"event": event, "ifindex": message.get("index"), "address": message.get_attr("IFA_ADDRESS")}
    if event in ("RTM_NEWLINK", "RTM_DELLINK"):
        return {"event": event, "ifindex": message.get("index"), "ifname": message.get_attr("IFLA_IFNAME"),
                "operstate": message.get_attr("IFLA_OPERSTATE")}
    if event in ("RTM_NEWROUTE", "RTM_DELROUTE") and message.get("dst_len") == 0:
        return {"event": event, "default_route": True, "gateway": message.get_attr("RTA_GATEWAY"),
                "ifindex": message.get_attr("RTA_OIF")}
    return None


def is_gain(info: dict[str, Any]) -> bool:
    """Whether the event brings something up (a link, an address, a route) or takes it away."""
    event = info.get("event")
    if event == "RTM_NEWLINK":
        return info.get("operstate") in ("UP", "UNKNOWN")
    return event in ("RTM_NEWADDR", "RTM_NEWROUTE")


def default_route_settled(info: dict[str, Any], usable: set[int], routes: list[tuple[int, int]],
                          usable_before: set[int] | None = None) -> bool:
    """Whether the host's default route is already where this event leaves it, so a policy has
    nothing to wait for. `usable`: the interfaces up, running and addressed (IPv4); `routes`:
    the IPv4 default routes as (metric, interface). The route used is the best one out of a
    usable interface.
    A loss (link down, address or route gone): settled when such a route is left (a standby
    handover: LTE up, addressed and routed before Wi-Fi went). A gain (link up, address or route
    added): settled only when the best route now leaves from that very interface (the new route
    is in place; a link that just came up without its address and route is still coming up).
    `usable_before`: the usable interfaces at the previous event. A "loss" on an interface that
    was not usable then took nothing away (bringing a link up, the kernel first reports it with
    operstate DOWN, before its carrier): it is not settled, the link is coming up."""
    candidates = sorted((metric, index) for metric, index in routes if index in usable)
    if not candidates:
        return False
    if is_gain(info):
        return candidates[0][1] == info.get("ifindex")
    if usable_before is not None and info.get("event") == "RTM_NEWLINK" and info.get("ifindex") not in usable_before:
        return False
    return True


def network_state(usable: set[int], routes: list[tuple[int, int]]) -> tuple[int | None, frozenset[int]]:
    """What an app sees of the host's network: the interface of the best default route out of a
    usable interface (None: no route out), and the usable interfaces."""
    candidates = sorted((metric, index) for metric, index in routes if index in usable)
    return (candidates[0][1] if candidates else None), frozenset(usable)


def kernel_default_routes(ipr: IPRoute) -> list[tuple[int, int]]:
    """The main table's IPv4 default routes: (metric, output interface)."""
    routes = []
    for route in ipr.get_routes(family=socket.AF_INET, table=254):
        if route.get("dst_len") == 0 and route.get_attr("RTA_OIF") is not None:
            routes.append((int(route.get_attr("RTA_PRIORITY") or 0), int(route.get_attr("RTA_OIF"))))
    return routes


def usable_interfaces() -> set[int]:
    indexes = set()
    for name in set(usable_ipv4_interfaces().values()):
        try:
            indexes.add(socket.if_nametoindex(name))
        except OSError:  # gone meanwhile
            continue
    return indexes


class NetworkWatcher:
    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callback) -> None:
        self._loop = loop
        self._callback = callback
        self._ipr: IPRoute | None = None
        self._query: IPRoute | None = None
        self._ready = threading.Event()
        self._stopped = False
        self._usable: set[int] | None = None  # at the previous event (or the start)
        self._state: tuple[int | None, frozenset[int]] | None = None  # network_state, likewise
        self._thread = threading.Thread(target=self._run, name="netwatch", daemon=True)

    def start(self) -> None:
        """Returns once the netlink socket listens (pyroute2 must not run in the loop's thread)."""
        self._thread.start()
        self._ready.wait(5.0)

    def _run(self) -> None:
        try:
            self._ipr = IPRoute()
            self._ipr.bind(groups=RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE)
            self._query = IPRoute()  # dumps on their own socket: the bound one only listens
            self._usable = usable_interfaces()
            self._state = network_state(self._usable, kernel_default_routes(self._query))
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
                    info["settled"], info["changed"] = self._read(info)
                    self._loop.call_soon_threadsafe(self._callback, info)

    def _read(self, info: dict[str, Any]) -> tuple[bool, bool]:
        """(settled, changed) of this event, from the kernel's state now."""
        if self._query is None:
            return False, True
        try:
            usable, before = usable_interfaces(), self._usable
            routes = kernel_default_routes(self._query)
            state, previous = network_state(usable, routes), self._state
            self._usable, self._state = usable, state
            return default_route_settled(info, usable, routes, before), state != previous
        except Exception:  # the namespace is going away: nothing is settled
            return False, True

    def stop(self) -> None:
        self._stopped = True
        for ipr in (self._ipr, self._query):
            try:
                if ipr is not None:
                    ipr.close()
            except Exception:
                pass
