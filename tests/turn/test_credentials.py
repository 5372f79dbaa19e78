from __future__ import annotations

import base64
import hashlib
import hmac

from lab.turn import ephemeral_credential


def test_ephemeral_credential_is_expiry_colon_user_with_hmac_sha1_password() -> None:
    cred = ephemeral_credential("s3cret", "alice", ttl=600, now=1_700_000_000)
    assert cred.username == "1700000600:alice"
    assert cred.expires_at == 1_700_000_600
    expected = base64.b64encode(
        hmac.new(b"s3cret", b"1700000600:alice", hashlib.sha1).digest()).decode()
    assert cred.password == expected
    # fixed vector, computed independently with `openssl dgst -sha1 -hmac s3cret -binary | base64`
    assert cred.password == "bUIJIVaC05oyFgKsQvKAparqg1Q="
