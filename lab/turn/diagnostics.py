"""Make a failed TURN allocation visible in the peer's log.

aioice gathers relay candidates in a background task and silently drops its exception: with
wrong or expired credentials a peer just ends up with no relay candidate. This module wraps
`aioice.turn.create_turn_endpoint` (which aioice.ice looks up at call time) so that every failed
allocation logs one clear line, then re-raises exactly what aioice would have seen: call
`create_turn_endpoint` directly, or gather within `logging_failed_allocations()` (aioice's
factory is swapped for the block only, never for the whole process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Iterator
from typing import Any

from aioice import stun, turn

logger = logging.getLogger("lab.turn.allocation")

_HINTS = {
    401: "wrong or expired credentials",
    403: "forbidden by the relay's policy",
    437: "allocation mismatch (the relay still holds an allocation for this 5-tuple)",
    438: "stale nonce",
    441: "wrong credentials",
    486: "allocation quota reached",
    508: "relay has no free ports",
}

if not callable(getattr(turn, "create_turn_endpoint", None)):  # pinned aioice==0.13.0
    raise ImportError("lab.turn.diagnostics needs aioice.turn.create_turn_endpoint (aioice 0.13.0)")
_aioice_create_turn_endpoint = turn.create_turn_endpoint


def describe_failure(error: BaseException, server: tuple[str, int], transport: str,
                     tls: bool, username: str | None, now: float | None = None) -> str:
    """One line saying which allocation failed and why."""
    scheme = "turns" if tls else "turn"
    where = f"{scheme}:{server[0]}:{server[1]}?transport={transport}"
    who = f"user '{username}'" if username else "no credentials"
    if isinstance(error, stun.TransactionFailed):
        code, reason = error.response.attributes.get("ERROR-CODE", (0, "no error code"))
        why = f"{code} {reason}: {_HINTS.get(code, 'refused by the relay')}"
        if code == 401 and username and ":" in username:
            expiry = username.split(":", 1)[0]
            if expiry.isdigit():
                left = int(expiry) - (time.time() if now is None else now)
                why += (f" (ephemeral credential expired {-left:.0f} s ago)" if left < 0
                        else f" (ephemeral credential still valid for {left:.0f} s: wrong secret?)")
    elif isinstance(error, stun.TransactionTimeout):
        why = "no answer from the relay (unreachable, blackholed or down)"
    elif isinstance(error, ssl.SSLError):
        why = f"TLS failed: {error} (does the peer trust the lab CA? set SSL_CERT_FILE)"
    elif isinstance(error, asyncio.CancelledError):
        why = "not finished within aioice's gathering timeout (relay unreachable?)"
    elif isinstance(error, OSError):
        why = f"cannot reach the relay: {error}"
    else:
        why = f"{type(error).__name__}: {error}"
    return f"TURN allocation failed on {where} as {who}: {why}"


async def create_turn_endpoint(protocol_factory: Any, server_addr: tuple[str, int], username: str | None,
                               password: str | None, *args: Any, log: logging.Logger = logger,
                               **kwargs: Any) -> Any:
    """aioice's TURN endpoint factory, logging one clear line when the allocation fails (then
    re-raising exactly what aioice raised)."""
    try:
        return await _aioice_create_turn_endpoint(protocol_factory, server_addr, username, password,
                                                  *args, **kwargs)
    except BaseException as error:
        log.error(describe_failure(error, server_addr, kwargs.get("transport", "udp"),
                                   bool(kwargs.get("ssl")), username))
        raise


@contextlib.contextmanager
def logging_failed_allocations() -> Iterator[None]:
    """Within the block, the allocations aioice makes while gathering (which it looks up at call
    time and whose failures it drops) go through create_turn_endpoint; restored on exit."""
    if turn.create_turn_endpoint is create_turn_endpoint:
        yield  # already inside such a block
        return
    turn.create_turn_endpoint = create_turn_endpoint  # type: ignore[assignment]
    try:
        yield
    finally:
        turn.create_turn_endpoint = _aioice_create_turn_endpoint  # type: ignore[assignment]
