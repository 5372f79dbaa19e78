"""Which coturn 4.6 options a relay spec may pass through, and which the lab manages itself.

`RelaySpec.options` lets a user add raw turnserver.conf options. Only options coturn 4.6 knows
(from `turnserver -h` of Debian's coturn 4.6.1) are accepted, and never one the lab sets from the
spec or one that would break hermeticity (CLI, web admin, external addresses, databases).
"""

from __future__ import annotations

# Options the lab renders from the spec's own fields: set them through those fields.
MANAGED = frozenset({
    "listening-ip", "listening-port", "tls-listening-port", "alt-listening-port",
    "alt-tls-listening-port", "relay-ip", "min-port", "max-port", "realm", "user",
    "lt-cred-mech", "use-auth-secret", "static-auth-secret", "cert", "pkey",
    "max-allocate-lifetime", "channel-lifetime", "permission-lifetime", "relay-threads",
    "log-file", "simple-log", "no-stdout-log", "pidfile", "userdb", "db",
    "allowed-peer-ip", "denied-peer-ip", "no-multicast-peers", "no-cli",
    "no-udp", "no-tcp", "no-tls", "no-dtls", "no-rfc5780", "verbose", "Verbose",
})

# Options that would let the relay reach or be reached from outside the lab, or pull in
# external state: refused outright.
FORBIDDEN = frozenset({
    "external-ip", "allow-loopback-peers", "cli-ip", "cli-port", "cli-password",
    "web-admin", "web-admin-ip", "web-admin-port", "web-admin-listen-on-workers",
    "server-relay", "listening-device", "relay-device", "aux-server", "udp-self-balance",
    "alternate-server", "tls-alternate-server", "psql-userdb", "sql-userdb", "mysql-userdb",
    "redis-userdb", "redis-statsdb", "prometheus", "prometheus-port", "daemon", "syslog",
    "proc-user", "proc-group", "acme-redirect", "tcp-proxy-port", "oauth", "secret-key-file",
})

# Further coturn 4.6 options a spec may set freely (flags take `true`).
PASSTHROUGH = frozenset({
    "fingerprint", "no-auth", "check-origin-consistency", "user-quota", "total-quota",
    "max-bps", "bps-capacity", "pkey-pwd", "cipher-list", "CA-file", "ec-curve-name",
    "dh566", "dh1066", "dh-file", "no-tlsv1", "no-tlsv1_1", "no-tlsv1_2", "no-udp-relay",
    "no-tcp-relay", "new-log-timestamp", "new-log-timestamp-format", "log-binding",
    "stale-nonce", "stun-only", "no-stun", "rest-api-separator", "max-allocate-timeout",
    "secure-stun", "mobility", "allocation-default-address-family", "keep-address-family",
    "no-software-attribute", "no-stun-backward-compatibility",
    "response-origin-only-with-rfc5780", "no-auth-pings", "no-dynamic-ip-list",
    "no-dynamic-realms", "server-name", "cli-max-output-sessions", "ne",
})


def check_option(name: str) -> str | None:
    """Why `name` may not be passed through, or None when it may."""
    if name in MANAGED:
        return f"'{name}' is set by the lab from the relay spec; use the spec's own field"
    if name in FORBIDDEN:
        return f"'{name}' is not allowed: it would break the lab's isolation or add outside state"
    if name not in PASSTHROUGH:
        return f"unknown coturn 4.6 option '{name}'"
    return None
