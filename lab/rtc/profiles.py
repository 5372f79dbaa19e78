"""Engine profiles: option values that make lab.rtc's restartable peer a calibrated stand-in for
a browser's ICE behaviour (liveness detection, check pacing, timeouts, gathering), so that a large
matrix can run cheap Python peers where a real browser (~0.4-0.6 GiB each) is too heavy.

A profile is data: values of lab.rtc's DetectionConfig and IceOptions fields (every one exists;
`apply_*` would report and skip one that did not), and which of the host's networks the agent
gathers on (`networks`, applied by lab.runtime.agent). The stand-in kind `aiortc~chrome` /
`aiortc~firefox` runs the aiortc agent with it; the report marks its results as a stand-in's.
What each option mimics:
  detection   consent_interval + disconnected_after + failed_after: when the engine says
              'disconnected' and 'failed' after the path dies (measured, below);
              consent_retransmit_interval: how fast a broken path is probed (so how soon after
              it returns consent is back); disconnect_on_interface_loss: Firefox's sockets error
              when their interface goes, so it says 'disconnected' at once (the stand-in at the
              netlink event that removed its selected pair's address); recheck_pairs_after:
              libwebrtc moves to another pair that answers when the selected one goes quiet;
              recheck_delay_after_address_loss: ... 1 s later when the selected pair's own
              network went (measured on the handover).
  ice         check_interval / check_pacing: a pair's retransmission and Ta; server_query_interval:
              STUN/TURN retransmission; candidate_pool_size 0 and trickle: the lab's page sets no
              candidate pool, so a restart gathers then and trickles; server_candidates_retry 0:
              neither browser queries servers again after a gathering that got no answer;
              rank_host_addresses: a browser ranks a host's networks instead of letting the first
              pair that answers carry the call; backup_ping_interval: libwebrtc keeps checking
              the pairs it did not select (every 25 s once valid).
  networks    libwebrtc gathers on every network, ranked by adapter type (what the kernel reports,
              else guessed from the interface name), then by name ("adapter-type",
              lab.rtc.adapter_types; the lab's veths are all Ethernet, so the name decides);
              Firefox without a camera/microphone permission gathers only on the default route's
              interface ("default-route").
Not set by a profile: continual gathering (the policy `continual-gathering` chooses it).

Calibration (benchmarks/profile_calibration.py, 2026-11-30: policy on-disconnected, the
experiments' first RTT (20 ms), 5 trials per pair and fault, 2 cores shared with 4 other
engineers' runs, load average 4-23 (the firefox handover rows: load average ~1-2); median media
gap of the recovered trials in ms, recovered/run; ratio = stand-in / real, goal 0.85-1.15):
    fault                chrome real    stand-in      ratio   firefox real   stand-in      ratio
    handover             3679 (5/5)     3861 (5/5)    1.05    163 (5/5)      159 (5/5)     0.97
    transient_blackhole  3020 (5/5)     3020 (5/5)    1.00    3082 (4/5)     3021 (5/5)    0.98
    binding_expiry       2748 (5/5)     2657 (5/5)    0.97    7383 (5/5)     6880 (5/5)    0.93
    relay_kill           5380 (5/5)     5141 (5/5)    0.96    6545 (5/5)     5897 (5/5)    0.90
    handover_overlap     5643 (5/5)     5460 (5/5)    0.97    128 (5/5)      120 (5/5)     0.94
  The stand-in side of transient_blackhole, binding_expiry and relay_kill (both engines) was run
  again on the session's final lab.rtc (liveness at its deadlines, warm backup pairs, TURN
  permission ordering; 5 trials each, load average 1-7) against the same real trials; before:
  3021 / 3026, 2899 / 6384, 5538 / 6298 ms (ratios 1.00 / 0.98, 1.05 / 0.86, 1.03 / 0.96).
  The chrome handover and handover_overlap cells were rerun after phone_handover's uplinks were
  named wlan0/wwan0 (before, both Chromium calls ran on the standby 'lte' and the handover did not
  touch them; load average ~10). handover/chrome: real Chromium never says 'disconnected' and
  never restarts: 3.6-3.8 s after the break it moves, in ICE generation 0, to the pair on the
  standby LTE (5 of 5). The chrome stand-in's handover, binding_expiry and handover_overlap
  cells were measured again (2026-11-30, stand-in side only, against the same real trials; load
  average 1-4) after its peer learnt to follow the phone's move (a controlled side whose check
  of that pair connect() had cancelled never checked it again), backup pairs were kept warm and
  a move off a pair whose address vanished waits 1 s more (recheck_delay_after_address_loss):
  handover: both sides move to the LTE pair in generation 0, no 'disconnected', no restart
  (5 of 5; gaps 3356-4138 ms). Before, the stand-in did so in 2 of 5 (media back at
  2.66-2.69 s) and in 3 of 5 only the phone moved and its peer restarted at 'disconnected'
  (5.26-5.40 s): ratio 1.43. binding_expiry: moves in generation 0 (5 of 5; 2640-2940 ms);
  a recheck_pairs_after of 4.0 s alone would have fit the handover but given it 1.43.
  handover_overlap: both restart at 'disconnected' (Chromium once per trial, the stand-in twice).
  Rerun after the browser page got its network signal (lab/runtime/chromium/network.py: it
  re-opens its signaling socket at the network event instead of after its 3 s ack timeout):
  chromium handover real 3620-3840 ms, median 3680 (5/5): unchanged, its signaling is not on the
  path (it moves pair by itself, no restart).
  handover/firefox, handover_overlap/firefox (wlan0/wwan0; before, on wifi/lte: 3367 / 4050 and
  3387 / 3822, where the page's ack timeout held the restart offer ~3 s): where each side's time
  goes (real / stand-in medians, ms after the break): 'disconnected' 9 / 1 (overlap 8 / 1: the
  stand-in says it at the netlink event, Firefox when its socket errors), restart at once, the
  offer waits for the phone's signaling to re-join over LTE 50 / 52 (the browser's WebSocket and
  the agent's relay of the event vs the aiortc client; not an engine timing), answer 18 / 18
  after that, checks from answer to 'connected' 54 / 43, media 43 / 46 after 'connected'.
  Before the stand-in said 'disconnected' at once on an interface loss it waited for its next
  liveness tick (67-80 ms, overlap 4-246 ms; ratios 1.22 / 1.27). Left, and cancelling out
  here: Firefox's restart generation trickles its srflx candidate 31-34 ms after it starts
  gathering on the answerer (2 host candidates first) and 50-55 ms on the phone (4 first), the
  stand-in's 12-30 ms (both fault cells, 10 trials each): consistent with nICEr starting one
  candidate's gathering per Ta (20 ms), which lab.rtc has no option for; from the answerer's
  srflx to the phone's 'connected' Firefox takes 33-42 ms, the stand-in 41-65 ms.
  Not mimicked: Firefox's slow modes right after an interface loss (a first restart gathered on a
  vanished address or without srflx, recovered by the policy's retry at ~10 s; or 'failed' and
  no media after, lab/runtime/firefox/README.md), which cost it 1-2 of 5 trials last session and
  none of 10 in the rerun. The 3 s
  blackhole ends before either engine's detection, so its 1.00 says only that both wait for the
  path. Trials not recovered: Firefox's no-media-after-'failed' bug (2), a browser (2) and a
  stand-in agent (1) killed with -9 from outside the runs, and one firefox stand-in whose media
  stopped again after the blackhole (transient_blackhole; not investigated).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

PROFILE_NAMES = ("chrome", "firefox")


Networks = Literal["all", "adapter-type", "default-route"]


@dataclass(frozen=True)
class EngineProfile:
    name: str
    engine: str                                          # what it stands in for
    detection: dict[str, float | bool] = field(default_factory=dict)  # DetectionConfig fields
    ice: dict[str, float | bool | int] = field(default_factory=dict)  # IceOptions fields
    # which of the host's usable networks the agent gathers on, best first (its host_addresses;
    # lab.runtime.agent.interfaces.ranked_ipv4_addresses): the stand-in's call runs on the
    # network the engine would choose
    networks: Networks = "all"


# Options both browsers share: the lab's page sets no iceCandidatePoolSize (a restart gathers
# its server candidates then, and trickles them), neither browser queries STUN/TURN again after
# a gathering that got no answer, and both rank a host's networks instead of letting the first
# pair that answers carry the call.
BROWSER_ICE: dict[str, float | bool | int] = {
    "candidate_pool_size": 0, "server_candidates_retry": 0.0, "trickle": True, "rank_host_addresses": True,
}

PROFILES: dict[str, EngineProfile] = {
    "chrome": EngineProfile(
        name="chrome", engine="Chromium 156 (libwebrtc)",
        # libwebrtc: unwritable (-> 'disconnected') 5 s after the first unanswered ping; a
        # selected pair is pinged every 0.9 s while 'stabilizing' (its first ~10 answers: every
        # shipped fault hits a call a few seconds old) and every 2.5 s once stable, and every
        # 48 ms once a ping is unanswered. Connection 'failed' exactly 10 s after
        # 'disconnected'. Measured: 'disconnected' 5.06-6.06 s (median 5.15 s, 5 relay kills).
        # A selected pair that received nothing for 2.5 s is no longer receiving
        # (WEAK_CONNECTION_RECEIVE_TIMEOUT = RECEIVING_TIMEOUT = 2500 ms, p2p_constants.cc) and
        # libwebrtc moves to another connection that answers, without saying 'disconnected':
        # after a NAT forgot the binding, media back in 2.64-2.86 s (5 trials); here counted
        # from the last consent answer, on average ~0.45 s older than the last packet (3.0 s).
        # After its Wi-Fi went (the standby handover) Chromium moves 3.6-3.8 s after the break
        # (5 of 5): one RECEIVING_SWITCHING_DELAY (1000 ms) later, so the stand-in waits 1 s
        # more when its selected pair's address is gone
        detection={"consent_interval": 0.9, "disconnected_after": 5.6, "failed_after": 15.6,
                   "consent_retransmit_interval": 0.048, "recheck_pairs_after": 3.0,
                   "recheck_delay_after_address_loss": 1.0},
        # a check not yet answered again every 48 ms (libwebrtc's weak ping interval), one new
        # check per ~62 ms slot (measured across two NATs); STUN/TURN retransmission from 250 ms;
        # backup pairs pinged every 25 s (BACKUP_CONNECTION_PING_INTERVAL, which Chromium leaves
        # at its default), so the standby LTE pair is valid on both sides when the call moves
        ice={**BROWSER_ICE, "check_interval": 0.048, "check_pacing": 0.062, "server_query_interval": 0.25,
             "new_generation_timeout": 30.0, "backup_ping_interval": 25.0},
        # libwebrtc ranks networks by adapter type, then by name: veths are all Ethernet, so on
        # the phone wlan0 comes before wwan0 and carries the call
        networks="adapter-type",
    ),
    "firefox": EngineProfile(
        name="firefox", engine="Firefox ESR 153 (nICEr)",
        # measured: 'disconnected' 5.8-8.3 s (median of 10: 6.36 s over binding_expiry and
        # relay_kill, 5 each), 'failed' 26.7-26.8 s after the path died: a short consent
        # interval keeps the stand-in's spread as small as Firefox's. When the selected pair's
        # interface goes, Firefox's socket errors and it says 'disconnected' at once (measured:
        # 0-22 ms after the handover's break, median 8-9 ms, 10 trials; the stand-in at the
        # netlink event, 0-2 ms)
        detection={"consent_interval": 1.0, "disconnected_after": 6.8, "failed_after": 27.2,
                   "consent_retransmit_interval": 0.1, "disconnect_on_interface_loss": True},
        # nICEr: Ta 20 ms, STUN retransmission from 100 ms
        ice={**BROWSER_ICE, "check_interval": 0.1, "check_pacing": 0.02, "server_query_interval": 0.1,
             "new_generation_timeout": 30.0},
        # without a camera/microphone permission (the lab's page has none) Firefox gathers only
        # on the default route's interface (measured: every candidate on the phone's Wi-Fi)
        networks="default-route",
    ),
}


def profile(name: str) -> EngineProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown lab.rtc profile {name!r} (one of {', '.join(PROFILES)})") from None


def _known(options_class: type, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    names = {f.name for f in dataclasses.fields(options_class)}
    return ({k: v for k, v in values.items() if k in names}, sorted(k for k in values if k not in names))


def apply_detection(name: str, base: Any) -> tuple[Any, list[str]]:
    """base (a DetectionConfig) with the profile's detection values; and the names skipped."""
    used, skipped = _known(type(base), profile(name).detection)
    return dataclasses.replace(base, **used), skipped


def apply_ice(name: str, base: Any) -> tuple[Any, list[str]]:
    """base (an IceOptions) with the profile's ICE values; and the names skipped."""
    used, skipped = _known(type(base), profile(name).ice)
    return dataclasses.replace(base, **used), skipped
