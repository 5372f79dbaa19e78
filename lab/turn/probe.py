"""Readiness: does a relay answer a STUN Binding request (from inside the lab network)?"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from aioice import stun


def binding_request(sock: socket.socket, server: tuple[str, int], timeout: float) -> tuple[str, int] | None:
    """Send one Binding request on a UDP socket; the XOR-MAPPED-ADDRESS of the answer, or None."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    sock.settimeout(timeout)
    try:
        sock.sendto(bytes(request), server)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            data, _ = sock.recvfrom(2048)
            try:
                response = stun.parse_message(data)
            except ValueError:
                continue
            if (response.transaction_id == request.transaction_id
                    and response.message_class == stun.Class.RESPONSE):
                return response.attributes.get("XOR-MAPPED-ADDRESS")
    except (TimeoutError, socket.timeout, ConnectionRefusedError, OSError):
        return None
    return None


def wait_until_answering(sock: socket.socket, server: tuple[str, int], deadline: float,
                         alive: Callable[[], bool] = lambda: True) -> bool:
    """Poll with Binding requests until one is answered, `deadline` (monotonic) or `alive()` fails."""
    interval = 0.02
    while time.monotonic() < deadline:
        if not alive():
            return False
        if binding_request(sock, server, timeout=interval) is not None:
            return True
        interval = min(interval * 2, 0.25)
    return False
