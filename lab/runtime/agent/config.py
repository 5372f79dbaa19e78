"""What the orchestrator tells a peer agent (one JSON document on its command line)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lab.experiment.spec import PolicySpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IceServer(_Strict):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Detection(_Strict):
    consent_interval_s: float = 1.0
    disconnected_after_s: float = 2.0
    failed_after_s: float = 8.0


class SignalingConfig(_Strict):
    path: Literal["lab", "control"] = "control"
    url: str | None = None
    room: str = "trial"


class AgentConfig(_Strict):
    trial_id: str
    role: Literal["offerer", "answerer"]
    host: str
    kind: Literal["aiortc", "chromium", "firefox"] = "aiortc"  # the peer implementation (lab.runtime.kinds)
    polite: bool
    restarts: bool = Field(description="this peer acts on the policy (the policy's side includes it)")
    policy: PolicySpec
    signaling: SignalingConfig = SignalingConfig()
    ice_servers: list[IceServer] = []
    ice_transport_policy: Literal["all", "relay"] = "all"
    detection: Detection = Detection()
    codec: Literal["PCMU", "opus"] = "PCMU"
    send_media: bool = True
    watch_network: bool = True
    wait_for_start: bool = False
    # aiortc only: a calibrated stand-in for a browser's ICE timing (lab.rtc.profiles); replaces
    # `detection` and the matching ICE options
    rtc_profile: Literal["chrome", "firefox"] | None = None
