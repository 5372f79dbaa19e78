"""The Chromium agent names the interface of each candidate it signals (from inside its event loop)."""

from __future__ import annotations

from lab.runtime.chromium.interfaces import InterfaceOf


async def test_candidate_interfaces_are_looked_up_from_a_running_loop() -> None:
    interface_of = InterfaceOf()
    assert interface_of.of_candidate({"type": "host", "address": "127.0.0.1"}) == "lo"
    assert interface_of.of_candidate({"type": "srflx", "address": "198.51.100.99", "related_address": "127.0.0.1"}) == "lo"
    assert interface_of.of_candidate({"type": "relay", "address": "198.51.100.2", "related_address": "127.0.0.1"}) is None
    assert interface_of.of_candidate({"type": "host", "address": "192.0.2.77"}) is None
