"""Which local interface holds an address: names the interface a browser's candidate was gathered on.

A page sees a candidate's address but not its interface; the agent runs in the peer's network
namespace and looks the address up there (the candidate's own address for host candidates, its
base, the related address, for server-reflexive and peer-reflexive ones).
"""

from __future__ import annotations

from typing import Any

from lab.net.worker import on_lab_thread


@on_lab_thread  # pyroute2's synchronous API cannot run in the agent's event-loop thread
def _addresses() -> dict[str, str]:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        links = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        return {addr.get_attr("IFA_ADDRESS"): links.get(addr["index"], "?") for addr in ipr.get_addr(family=2)}


class InterfaceOf:
    """address -> interface name in this process's network namespace, refreshed on a miss."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def _refresh(self) -> None:
        self._names = _addresses()

    def __call__(self, address: str | None) -> str | None:
        if not address:
            return None
        if address not in self._names:
            self._refresh()
        return self._names.get(address)

    def of_candidate(self, event: dict[str, Any]) -> str | None:
        """The interface of a candidate_sent event's candidate (None when not local or not known)."""
        kind = event.get("type")
        if kind == "host":
            return self(event.get("address"))
        if kind in ("srflx", "prflx"):
            return self(event.get("related_address"))
        return None  # relay: the related address is the public mapping, not a local base
