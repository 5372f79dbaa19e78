"""What the orchestrator tells a peer agent when it starts (one JSON document on its command line)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.contract._model import Strict
from lab.contract.detection import Detection
from lab.contract.policy import Policy

# The peer implementation an agent runs; lab.runtime.kinds maps each to its agent module and
# the orchestrator's handle. aiortc: lab.rtc's restartable aiortc (lab.runtime.agent); chromium,
# firefox: real browsers (lab.runtime.chromium, lab.runtime.firefox).
AgentKind = Literal["aiortc", "chromium", "firefox"]
# What an experiment names: an agent kind, or aiortc as a calibrated stand-in for a browser's ICE
# timing ("aiortc~<profile>", lab.rtc.profiles).
PeerKind = Literal["aiortc", "chromium", "firefox", "aiortc~chrome", "aiortc~firefox"]
RtcProfile = Literal["chrome", "firefox"]


class IceServer(Strict):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class SignalingConfig(Strict):
    path: Literal["lab", "control"] = "control"
    url: str | None = None
    room: str = "trial"


class AgentConfig(Strict):
    trial_id: str
    role: Literal["offerer", "answerer"]
    host: str
    kind: AgentKind = "aiortc"
    polite: bool
    restarts: bool = Field(description="this peer acts on the policy (the policy's side includes it)")
    policy: Policy
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
    rtc_profile: RtcProfile | None = None
