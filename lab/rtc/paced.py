"""A STUN request sent again at a fixed pace, not with aioice's doubling RTO."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from aioice import stun

Address = tuple[str, int]


class StunSender(Protocol):
    """What sends a request and routes its response: aioice's StunProtocol, a TURN client."""

    transactions: dict[bytes, Any]

    def send_stun(self, message: stun.Message, addr: Address) -> None: ...


class PacedRequest:
    """A STUN request sent again at a fixed pace until answered or `timeout` seconds passed.

    Registered in the protocol's transactions like an aioice Transaction (a StunProtocol's,
    or a TURN client's), so the protocol routes the response here; `send_now()` sends it again
    at once (a triggered check). `sign=False`: the request is signed already (TURN).
    """

    def __init__(
        self,
        protocol: StunSender,
        request: stun.Message,
        addr: Address,
        integrity_key: bytes | None,
        interval: Callable[[], float],
        timeout: float,
        *,
        sign: bool = True,
        long_term_credential: bool = False,
    ) -> None:
        self._protocol = protocol
        self._request = request
        self._addr = addr
        self._key = integrity_key
        self._interval = interval
        self._timeout = timeout
        self._sign = sign
        self._long_term = long_term_credential
        self._future: asyncio.Future[tuple[stun.Message, Address]] = (
            asyncio.get_running_loop().create_future()
        )
        self.sent = 0

    def response_received(self, message: stun.Message, addr: Address) -> None:
        if self._future.done():
            return
        if self._key is not None and not self._authenticated(message, self._key):
            return
        if message.message_class == stun.Class.RESPONSE:
            self._future.set_result((message, addr))
        else:
            self._future.set_exception(stun.TransactionFailed(message))

    def _authenticated(self, message: stun.Message, key: bytes) -> bool:
        # with long-term credentials (TURN) a 401 or 438 carries the realm and nonce to retry
        # with and need not be signed (RFC 8489 sections 9.2.4 and 9.2.5)
        if (
            self._long_term
            and message.message_class == stun.Class.ERROR
            and message.error_code in (401, 438)
        ):
            return True
        return bool(message.check_message_integrity(key))

    def send_now(self) -> None:
        if self._future.done():
            return
        try:
            self._protocol.send_stun(self._request, self._addr)
        except (OSError, AttributeError):  # socket closed or unusable: counts as lost
            pass
        self.sent += 1

    async def run(self) -> tuple[stun.Message, Address]:
        if self._key is not None and self._sign:
            self._request.add_message_integrity(self._key)
        transactions = self._protocol.transactions
        transaction_id = self._request.transaction_id
        transactions[transaction_id] = self  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        try:
            while True:
                self.send_now()
                left = deadline - loop.time()
                if left <= 0:
                    raise stun.TransactionTimeout()
                await asyncio.wait({self._future}, timeout=min(self._interval(), left))
                if self._future.done():
                    return self._future.result()
        finally:
            transactions.pop(transaction_id, None)
            if not self._future.done():
                self._future.cancel()
