"""Options of the restartable peer: liveness detection and ICE generation handling."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectionConfig:
    """How a connected ICE transport notices that its path died.

    Every `consent_interval` seconds (randomised to 0.8-1.2x, RFC 7675) a consent check goes out
    on the selected pair (after a missed answer, again at a quarter of the interval). The
    transport is alive while the remote answers those checks: consent
    (RFC 7675) is the remote answering OUR checks on the selected pair, so media that still
    arrives does not count (after a NAT rebinding the remote may keep sending to us from a path
    on which nothing of ours reaches it). No consent answer for `disconnected_after` seconds ->
    'disconnected'; for `failed_after` seconds -> 'failed' (terminal until an ICE restart, but
    DTLS, SCTP and the peer connection stay open).
    Defaults follow Chrome: 'disconnected' after ~5 s, 'failed' after ~15 s.
    `consent_only=False` is the lenient older rule: any datagram on the generation's sockets
    (media, DTLS, STUN) also counts, so a one-way cut that still lets media in goes unnoticed.
    """

    consent_interval: float = 2.0
    disconnected_after: float = 5.0
    failed_after: float = 15.0
    consent_only: bool = True

    def __post_init__(self) -> None:
        if self.consent_interval <= 0:
            raise ValueError(f"consent_interval must be > 0 s (got {self.consent_interval})")
        if self.disconnected_after <= 0:
            raise ValueError(f"disconnected_after must be > 0 s (got {self.disconnected_after})")
        if self.failed_after <= self.disconnected_after:
            raise ValueError(
                f"failed_after ({self.failed_after} s) must be longer than "
                f"disconnected_after ({self.disconnected_after} s)"
            )

    @property
    def tick(self) -> float:
        """How often liveness is evaluated."""
        return max(0.02, min(0.25, self.disconnected_after / 10))


@dataclass(frozen=True)
class IceOptions:
    """How ICE generations are gathered and swapped.

    host_addresses: local addresses to gather host candidates on, in order; None lets aioice
        enumerate the interfaces (it skips 127.0.0.1, so loopback tests pass ["127.0.0.1"]).
        Read again at every new generation, so `setIceOptions()` before `restartIce()` moves the
        next generation to other addresses (a Wi-Fi -> LTE style handover).
    use_ipv6: gather IPv6 host candidates when enumerating interfaces.
    old_generation_linger: seconds the previous generation keeps its sockets open after the
        cut-over, so late packets still arrive (make-before-break).
    new_generation_timeout: seconds a new generation may take to nominate a pair before it is
        given up (the old generation, if alive, keeps carrying media).
    server_candidates_retry: when every STUN/TURN query of a generation's gathering timed out
        (it gathered during an outage), seconds more to keep querying before describing it with
        host candidates only (which behind a NAT reach nobody); 0 disables the retry.
    """

    host_addresses: tuple[str, ...] | None = None
    use_ipv6: bool = True
    old_generation_linger: float = 3.0
    new_generation_timeout: float = 20.0
    server_candidates_retry: float = 10.0

    def __post_init__(self) -> None:
        if self.host_addresses is not None:
            object.__setattr__(self, "host_addresses", tuple(self.host_addresses))
            if not self.host_addresses:
                raise ValueError("host_addresses must name at least one address, or be None")
        if self.old_generation_linger < 0:
            raise ValueError("old_generation_linger must be >= 0 s")
        if self.new_generation_timeout <= 0:
            raise ValueError("new_generation_timeout must be > 0 s")
        if self.server_candidates_retry < 0:
            raise ValueError("server_candidates_retry must be >= 0 s")
