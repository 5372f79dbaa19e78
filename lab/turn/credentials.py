"""TURN credentials: static long-term users and TURN REST API ephemeral credentials.

The REST API scheme (draft-uberti-behave-turn-rest, coturn's use-auth-secret): the username is
"<expiry unix time>:<user>", the password base64(HMAC-SHA1(shared secret, username)). The relay
recomputes the password from the secret and refuses a username whose expiry has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class TurnCredential:
    username: str
    password: str
    # Unix time after which the relay refuses it (None: a static user, never expires).
    expires_at: int | None = None


def ephemeral_credential(secret: str, user: str, ttl: float, now: float | None = None) -> TurnCredential:
    """Issue a credential valid for `ttl` seconds (a negative ttl gives an already expired one)."""
    issued = time.time() if now is None else now
    expiry = int(issued + ttl)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode(), expiry)


def static_credential(user: str, password: str) -> TurnCredential:
    return TurnCredential(user, password)
