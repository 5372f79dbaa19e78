"""W3C close(): operations pending in the chain never settle; later ones raise InvalidStateError."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.exceptions import InvalidStateError

from .peers import make_peer

NO_SETTLE_WAIT = 0.3  # "never" = not within this wait (a fixed wait, not a timing assertion)


async def test_operations_pending_at_close_never_settle() -> None:
    a, b = make_peer(), make_peer()
    a.addTransceiver("audio")
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    running = asyncio.ensure_future(b.setLocalDescription())  # gathering: in the chain
    queued = asyncio.ensure_future(b.createOffer())  # waits behind it
    await asyncio.sleep(0)
    await b.close()
    done, _ = await asyncio.wait({running, queued}, timeout=NO_SETTLE_WAIT)
    assert done == set(), "neither resolved nor rejected"
    for task in (running, queued):
        task.cancel()
    with pytest.raises(InvalidStateError):
        await b.createOffer()
    with pytest.raises(InvalidStateError):
        await b.setRemoteDescription(a.localDescription)
    await a.close()
