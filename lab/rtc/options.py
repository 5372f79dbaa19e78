"""Options of the restartable peer: liveness detection and ICE generation handling."""

from __future__ import annotations

from dataclasses import dataclass

# libwebrtc's BACKUP_CONNECTION_PING_INTERVAL (ms 25 * 1000, p2p/base/p2p_constants.cc): how often
# a valid backup pair is checked while the selected one is strong
BACKUP_PING_INTERVAL = 25.0


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
    DTLS, SCTP and the peer connection stay open). Each state changes at its deadline (the last
    consent answer + `disconnected_after` / `failed_after`), not at a later poll, and back to
    'connected' at the first consent answer.
    Defaults follow Chrome: 'disconnected' after ~5 s, 'failed' after ~15 s.
    A consent check is retransmitted every `consent_retransmit_interval` seconds (default
    0.048, libwebrtc's ping interval for a weak connection) until answered, for at most
    `consent_interval` seconds; an unanswered check is followed at once by the next one, so a
    broken path is probed at that fixed pace (in 'disconnected' and 'failed' too) and the first
    answer after the path returns brings the transport back to 'completed' without a restart.
    `consent_only=False` is the lenient older rule: any datagram on the generation's sockets
    (media, DTLS, STUN) also counts, so a one-way cut that still lets media in goes unnoticed.
    `disconnect_on_interface_loss=True`: when the address of the selected pair's local socket
    vanishes (`update_addresses`: its interface went), consent counts as lost and the transport
    says 'disconnected' at once, instead of `disconnected_after` later (as Firefox does, whose
    sockets error); 'failed' follows `failed_after - disconnected_after` after that.
    `recheck_pairs_after` (seconds, default None: off): once the selected pair's consent has
    been missing that long, every other pair of the generation is checked again (pairs the
    first checks dropped too); the first that answers is nominated and carries the call without
    an ICE restart, before 'disconnected' if it is quick (libwebrtc: a pair not receiving for
    2.5 s is weak, and it moves to another writable one, e.g. through a NAT's new binding).
    `recheck_delay_after_address_loss` (seconds, default 0): when that recheck is due and the
    selected pair's local address is no longer the host's (its interface went), it waits this
    much longer (if consent does not come back meanwhile). Calibration for the `chrome`
    stand-in: Chromium moves 3.6-3.8 s after its Wi-Fi went (the standby handover) but
    2.6-2.9 s after a NAT forgot the selected path's binding; the 1 s difference is libwebrtc's
    RECEIVING_SWITCHING_DELAY (p2p/base/p2p_constants.cc), which it applies before switching
    from a connection that stopped receiving to one that only just started to.
    """

    consent_interval: float = 2.0
    disconnected_after: float = 5.0
    failed_after: float = 15.0
    consent_only: bool = True
    consent_retransmit_interval: float = 0.048
    disconnect_on_interface_loss: bool = False
    recheck_pairs_after: float | None = None
    recheck_delay_after_address_loss: float = 0.0

    def __post_init__(self) -> None:
        if self.recheck_delay_after_address_loss < 0:
            raise ValueError(
                "recheck_delay_after_address_loss must be >= 0 s "
                f"(got {self.recheck_delay_after_address_loss})"
            )
        if self.consent_retransmit_interval <= 0:
            raise ValueError(
                f"consent_retransmit_interval must be > 0 s (got {self.consent_retransmit_interval})"
            )
        if self.consent_interval <= 0:
            raise ValueError(f"consent_interval must be > 0 s (got {self.consent_interval})")
        if self.recheck_pairs_after is not None and self.recheck_pairs_after <= 0:
            raise ValueError(f"recheck_pairs_after must be > 0 s (got {self.recheck_pairs_after})")
        if self.disconnected_after <= 0:
            raise ValueError(f"disconnected_after must be > 0 s (got {self.disconnected_after})")
        if self.failed_after <= self.disconnected_after:
            raise ValueError(
                f"failed_after ({self.failed_after} s) must be longer than "
                f"disconnected_after ({self.disconnected_after} s)"
            )


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
    check_interval: a candidate pair whose check is unanswered is checked again every
        `check_interval` seconds (default 0.048, libwebrtc's pace for a pair that is not yet
        writable) instead of aioice's doubling 0.5 s RTO; with many pairs in progress the pace
        is bounded by RFC 8445 pacing: at least `check_pacing` x (pairs in progress) apart.
    check_pacing: Ta of RFC 8445 section 14: seconds between two new checks of a check list,
        and the per-pair bound above (default 0.02, aioice's pace).
    server_query_interval: a STUN query to a server (srflx) is sent again every this many
        seconds until answered (default 0.1), within the gathering's 5 s per round.
    check_timeout: seconds a pair's check keeps being sent before the pair fails (default 10).
    trickle: trickle ICE (RFC 8838): setLocalDescription returns once host candidates exist,
        the description names those, later candidates fire 'icecandidate' and then
        end-of-candidates (None); descriptions carry `a=ice-options:trickle`. An answer to an
        offer without that option waits for full gathering (a peer that does not trickle).
        False gathers fully before every description (aiortc's behaviour). Default True.
    candidate_pool_size: W3C's iceCandidatePoolSize: how many generations are gathered in
        advance for the next ICE restarts (0 or 1; default 0), so a restart's first checks start
        without waiting for sockets or STUN/TURN servers.
    gather_continually: keep watching for new local addresses after gathering (libwebrtc's
        GATHER_CONTINUALLY): `pc.networkChanged()` gathers host (and server) candidates on
        addresses that appeared, trickles them in the current generation and checks them at
        once, and drops candidates and pairs of addresses that vanished. Default False.
    rank_host_addresses: host candidates (and their srflx) get a local preference falling with
        the address's place in `host_addresses`, so the first address's pairs are checked and
        nominated first, as a browser ranks a host's networks (libwebrtc by adapter type, then
        name). False (default, aioice's rule): every host candidate has the same priority and
        whichever pair answers first carries the call.
    server_candidates_retry: when every STUN/TURN query of a generation's gathering timed out
        (it gathered during an outage), seconds more to keep querying before describing it with
        host candidates only (which behind a NAT reach nobody); 0 disables the retry.
    backup_ping_interval: keep backup pairs warm. Once a generation has nominated a pair, its
        other pairs (the valid ones, and the ones aggressive nomination dropped, formed again)
        keep being checked: one not yet valid at `check_interval` until it answers (libwebrtc's
        weak ping pace for a pair not yet writable), a valid one again every
        `backup_ping_interval` seconds, so that its validity and both NATs' mappings stay fresh.
        Only pairs whose local address is still the host's count. Such a check carries no
        USE-CANDIDATE, and an incoming one never makes the controlling side switch while its
        selected pair answers. When the selected pair's address vanishes (`update_addresses`),
        the controlling side sends on the best valid backup at once and nominates it with one
        check; the controlled side moves when that nomination, and the media sent over the pair,
        reach it (r/2 later: it keeps a higher-priority selected pair that still answers on a
        nomination alone, RFC 5245 section 8.1.1.2).
        None (default): BACKUP_PING_INTERVAL (25 s) under `gather_continually`, off otherwise;
        0: off. 25 s is libwebrtc's default ping interval for a backup connection while the
        selected one is strong (BACKUP_CONNECTION_PING_INTERVAL = 25 * 1000 ms in
        p2p/base/p2p_constants.cc, IceConfig.backup_connection_ping_interval; Chromium does not
        set it), inside the 30 s idle timeout of the lab's carrier NAT (phone_handover's nat_lte;
        RFC 4787 REQ-5 asks NATs for at least 2 min). The cost is one STUN check per
        pair per interval; under continual gathering it turns the fail-over on a standby
        network from a re-check (r, plus the remote's triggered check, r) into one nomination.
    """

    host_addresses: tuple[str, ...] | None = None
    use_ipv6: bool = True
    old_generation_linger: float = 3.0
    new_generation_timeout: float = 20.0
    server_candidates_retry: float = 10.0
    check_interval: float = 0.048
    check_pacing: float = 0.02
    check_timeout: float = 10.0
    server_query_interval: float = 0.1
    trickle: bool = True
    candidate_pool_size: int = 0
    gather_continually: bool = False
    rank_host_addresses: bool = False
    backup_ping_interval: float | None = None

    @property
    def backup_pings(self) -> float | None:
        """The backup ping interval in force (seconds), or None when backups are not pinged."""
        if self.backup_ping_interval is None:
            return BACKUP_PING_INTERVAL if self.gather_continually else None
        return self.backup_ping_interval or None

    def __post_init__(self) -> None:
        if self.backup_ping_interval is not None and self.backup_ping_interval < 0:
            raise ValueError(
                f"backup_ping_interval must be >= 0 s, 0 for off (got {self.backup_ping_interval})"
            )
        for name in ("check_interval", "check_pacing", "check_timeout", "server_query_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0 s (got {getattr(self, name)})")
        if self.candidate_pool_size not in (0, 1):
            raise ValueError(
                f"candidate_pool_size must be 0 or 1 (got {self.candidate_pool_size})"
            )
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
