"""Engine profiles: option values that make lab.rtc's restartable peer a calibrated stand-in for
a browser's ICE timing (detection intervals, check pacing, timeouts), so that a large matrix can
run cheap Python peers where a real browser (~0.4-0.6 GiB each) is too heavy.

Profiles are data only: option names of lab.rtc's DetectionConfig and IceOptions with their
values. An option the installed lab.rtc does not have (yet) is skipped and reported by
`apply_*` (lab.rtc's pacing options are being reworked; a profile stays valid across that).

Calibration (benchmarks/profile_calibration.py, policy on-disconnected, the experiments' first
RTT, 2 trials per pair and fault on 2 loaded cores, after the values below were set; ratio =
stand-in / real median media gap, goal 0.85-1.15):
    fault                chrome  (real gap)         firefox (real gap)
    handover             1.06    (5.46 s)           1.26    (5.77 s)
    transient_blackhole  1.00    (3.02 s)           1.00    (3.02 s)
    binding_expiry       2.27    (2.85 s)           1.09    (6.84 s)
    relay_kill           1.09    (5.34 s)           1.24    (6.07 s)
    handover_overlap     -       (0 of 2 recovered) 4.60    (3.34 s)
  Not mimicked: Chromium recovers from a NAT rebinding without ever saying 'disconnected'
  (binding_expiry); Firefox may say 'disconnected' ~20 ms after its interface vanishes (its
  sockets error) where lab.rtc waits for missed consent (handover, handover_overlap). The 3 s
  blackhole ends before either engine's detection, so its 1.00 says only that both wait for the
  path. Stand-in results are marked in the report (engine~profile).

Where the values come from (measured in this lab unless noted; benchmarks/browser_detection.py
and benchmarks/profile_calibration.py re-measure them):
  chrome   Chromium 156 (libwebrtc): 'disconnected' 5.2-7.5 s after the path dies, connection
           'failed' 10 s later (lab/runtime/chromium/README.md); libwebrtc pings a weak pair
           every 48 ms and a stable one every 2.5 s (its source); checks across two NATs took one
           check per ~62 ms slot (recovery notes).
  firefox  Firefox ESR 153 (nICEr): 'disconnected' 6.6-7.2 s and 'failed' 26.7-26.8 s after the
           path died (benchmarks/browser_detection.py, 3 rounds; lab/runtime/firefox/README.md);
           nICEr's check pace Ta is 20 ms, its STUN retransmission starts at 100 ms.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

PROFILE_NAMES = ("chrome", "firefox")


@dataclass(frozen=True)
class EngineProfile:
    name: str
    engine: str                                          # what it stands in for
    detection: dict[str, float | bool] = field(default_factory=dict)  # DetectionConfig fields
    ice: dict[str, float | bool | int] = field(default_factory=dict)  # IceOptions fields


PROFILES: dict[str, EngineProfile] = {
    "chrome": EngineProfile(
        name="chrome", engine="Chromium 156 (libwebrtc)",
        # measured: 'disconnected' 5.2-6.4 s after a blackhole (2 rounds), 5.1 s median after a
        # handover (3 trials); connection 'failed' exactly 10 s after 'disconnected'
        detection={"consent_interval": 2.5, "disconnected_after": 6.5, "failed_after": 16.5,
                   "consent_retransmit_interval": 0.048},
        ice={"check_interval": 0.048, "check_pacing": 0.062, "new_generation_timeout": 30.0},
    ),
    "firefox": EngineProfile(
        name="firefox", engine="Firefox ESR 153 (nICEr)",
        # measured: 'disconnected' 6.6-7.2 s, 'failed' 26.7-26.8 s after the path died (3 rounds):
        # a short consent interval keeps the stand-in's spread as small as Firefox's
        detection={"consent_interval": 1.0, "disconnected_after": 7.4, "failed_after": 27.2,
                   "consent_retransmit_interval": 0.1},
        ice={"check_interval": 0.1, "check_pacing": 0.02, "new_generation_timeout": 30.0},
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
