"""The browser page's network signal: what a real app hears from its OS on a network change.

A headless browser in a lab namespace fires no `online`/`offline` or Network Information
`change` event when one of two uplinks goes (a standby handover: Wi-Fi goes, LTE stays): an app
on a phone would still hear of it (Android's ConnectivityManager, iOS's NWPathMonitor). The
browser agent, in the same namespace, watches the host's links, addresses and routes with the
aiortc agent's netlink watcher (lab.runtime.agent.netwatch) and tells its page, as the aiortc
agent's signaling client decides for itself (lab.rtc.signaling.client.network_changed): the page
re-opens its signaling socket when the route to the server no longer leaves from the address
its socket was opened from.
"""

from __future__ import annotations

from collections.abc import Callable

from lab.contract import AgentConfig
from lab.route_source import route_source

# the page's channel states that mean "a socket is open and joined" / "none is"
CONNECTED_STATES = frozenset({"connected", "attached", "reclaimed"})   # signaling_channel / sfu_session
DISCONNECTED_STATES = frozenset({"disconnected", "reconnecting", "gone"})


def server_url(config: AgentConfig) -> str | None:
    """The URL of the server the page keeps a socket to (the lab's signaling server, or Janus);
    None when signaling is relayed over the control pipes."""
    if config.sfu is not None:
        return config.sfu.url
    if config.signaling.path == "control":
        return None
    return config.signaling.url


class SignalingRoute:
    """Tracks the source address of the page's signaling socket (the kernel's route source when
    the page said it connected, or when it was told to reconnect) and says, on each network
    event, whether the socket must move. The page cannot see its socket's local address."""

    def __init__(self, url: str, source_of: Callable[[str], str | None] = route_source) -> None:
        self.url = url
        self._source_of = source_of
        self.connected = False
        self.source: str | None = source_of(url)

    def on_channel_state(self, state: object) -> None:
        """The page reported its channel's state (signaling_channel or sfu_session)."""
        if state in CONNECTED_STATES:
            self.connected = True
            self.source = self._source_of(self.url)
        elif state in DISCONNECTED_STATES:
            self.connected = False

    def must_reconnect(self) -> bool:
        """A network event: True when the page should re-open its socket now. Connected: when the
        route to the server no longer leaves from the socket's address (gone, or moved). Not
        connected: when a route exists from another address than the last attempt's (a backoff
        wait is cut short)."""
        now = self._source_of(self.url)
        if self.connected:
            if now is not None and now == self.source:
                return False
        elif now is None or now == self.source:
            self.source = now  # no route: the page's attempts leave from nowhere until one appears
            return False
        self.source = now
        return True
