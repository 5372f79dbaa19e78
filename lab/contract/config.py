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


class SfuLeg(Strict):
    """The agent's leg through a Janus SFU (lab.sfu): it publishes its media into a VideoRoom
    (`publish`, always the offerer of its leg) or subscribes to the publisher's feed (`subscribe`,
    always the answerer of Janus's offers). No perfect negotiation on these legs: Janus's API is
    driven by the client, one request at a time, so there is no glare."""

    url: str = Field(description="Janus API over WebSocket (subprotocol janus-protocol)")
    room: int
    feed: int = Field(description="the publisher's feed id (the publisher joins with it)")
    leg: Literal["publish", "subscribe"]
    keepalive_s: float = 15.0
    join_timeout_s: float = Field(20.0, description="subscribe: how long to wait for the feed")


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
    # network events reach the restart policy (and are reported); the aiortc agent's signaling
    # client follows the network whatever this says, as an app's does
    watch_network: bool = True
    wait_for_start: bool = False
    # aiortc only: a calibrated stand-in for a browser's ICE timing (lab.rtc.profiles); replaces
    # `detection` and the matching ICE options
    rtc_profile: RtcProfile | None = None
    # through a Janus SFU (lab.sfu) instead of a peer-to-peer call (aiortc agents)
    sfu: SfuLeg | None = None
