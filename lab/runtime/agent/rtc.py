"""The agent's view of the peer connection: lab.rtc's restartable one, or plain aiortc's for the
baseline session (lab.runtime.agent.plain, chosen by ICELAB_AGENT_PLAIN_AIORTC=1).

Everything the agent needs from the WebRTC stack goes through here.
"""

from __future__ import annotations

import os
from typing import Any

import aiortc
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from lab.contract import AgentConfig
from lab.rtc import DetectionConfig, IceOptions, PerfectNegotiator, compat
from lab.rtc import RTCPeerConnection as LabPeerConnection

__all__ = ["PerfectNegotiator", "make_peer_connection", "make_plain_peer_connection", "plain_baseline",
           "profile_skipped", "profile_watches_interfaces", "refresh_ice_options"]


def plain_baseline() -> bool:
    """Whether this agent runs the plain-aiortc baseline (ICELAB_AGENT_PLAIN_AIORTC=1)."""
    return os.environ.get("ICELAB_AGENT_PLAIN_AIORTC") == "1"


def _configuration(config: AgentConfig) -> RTCConfiguration:
    servers = [RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in config.ice_servers]
    policy = RTCIceTransportPolicy.RELAY if config.ice_transport_policy == "relay" else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)


def make_peer_connection(config: AgentConfig) -> LabPeerConnection:
    global _profile
    _profile = config.rtc_profile
    detection = config.detection.to_rtc()
    if _profile is not None:
        from lab.rtc.profiles import apply_detection

        detection, _ = apply_detection(_profile, detection)
    continually = config.policy.action == "continual-gathering"
    return LabPeerConnection(configuration=_configuration(config), detection=detection,
                             ice=ice_options(gather_continually=continually))


def make_plain_peer_connection(config: AgentConfig) -> aiortc.RTCPeerConnection:
    return aiortc.RTCPeerConnection(configuration=_configuration(config))


# the agent's lab.rtc profile (one peer per agent process), applied to every generation's options
_profile: str | None = None


def profile_skipped() -> list[str]:
    """Options of the agent's profile that this lab.rtc does not have (reported in agent_ready)."""
    if _profile is None:
        return []
    from lab.rtc.profiles import apply_detection, apply_ice

    return apply_detection(_profile, DetectionConfig())[1] + apply_ice(_profile, IceOptions())[1]


def profile_watches_interfaces(config: AgentConfig) -> bool:
    """Whether the agent's profile stands in for an engine that notices a lost interface itself."""
    from lab.rtc.profiles import profile

    name = config.rtc_profile
    return name is not None and bool(profile(name).detection.get("disconnect_on_interface_loss"))


# how the plain lab.rtc peer ranks a host's networks: as an app on a phone does (Android, iOS and
# libwebrtc rank networks by adapter type, so Wi-Fi carries the call while cellular stands by), by
# lab.rtc.adapter_types' rule; without it the first pair to answer carried the call, often the
# standby cellular one, which a Wi-Fi -> cellular handover then never touched
PLAIN_NETWORKS = "adapter-type"


def ice_options(gather_continually: bool = False) -> IceOptions:
    """Gather on the namespace's usable interfaces only (read again before every restart), ranked
    (IceOptions.rank_host_addresses): a stand-in's as its engine does (EngineProfile.networks),
    the plain peer's by PLAIN_NETWORKS."""
    from lab.rtc.profiles import profile
    from lab.runtime.agent.interfaces import ranked_ipv4_addresses

    addresses = ranked_ipv4_addresses(profile(_profile).networks if _profile is not None else PLAIN_NETWORKS)
    # a pre-gathered generation (W3C iceCandidatePoolSize 1): a restart offer or answer names
    # its server candidates at once instead of trickling them one server round trip later
    options = IceOptions(host_addresses=tuple(addresses) if addresses else None, use_ipv6=False,
                         gather_continually=gather_continually, candidate_pool_size=1,
                         rank_host_addresses=True)
    if _profile is not None:
        from lab.rtc.profiles import apply_ice

        options, _ = apply_ice(_profile, options)
    return options


def refresh_ice_options(pc: Any) -> None:
    if isinstance(pc, LabPeerConnection):
        pc.setIceOptions(ice_options(pc.iceOptions.gather_continually))


async def network_changed(pc: Any) -> None:
    """The namespace's addresses changed: prune vanished ones now; with continual gathering,
    gather (and trickle) on new ones in the current ICE generation."""
    from lab.runtime.agent.interfaces import usable_ipv4_addresses

    if not isinstance(pc, LabPeerConnection):
        return
    addresses = usable_ipv4_addresses()
    if addresses:
        pc.setIceOptions(ice_options(pc.iceOptions.gather_continually))
    for transport in pc.getIceTransports():
        await transport.update_addresses(addresses)


def last_heard_at(pc: Any) -> float | None:
    """When the pc's (bundled) ICE transport last heard the remote (time.monotonic(): its last
    consent answer), None where lab.rtc does not run the transport."""
    for transceiver in pc.getTransceivers():
        transport = transceiver.sender.transport
        ice = getattr(transport, "transport", None)
        if ice is not None and hasattr(ice, "last_heard_at"):
            heard: float | None = ice.last_heard_at()
            return heard
    return None


def selected_pair(pc: Any) -> dict[str, Any] | None:
    """The selected candidate pair of the pc's (bundled) transport, or None."""
    for transceiver in pc.getTransceivers():
        transport = transceiver.sender.transport
        if transport is None:
            continue
        pair = compat.selected_pair(transport.transport)
        if pair is None:
            return None
        local, remote = pair.local, pair.remote
        return {
            "local_type": local.type, "local_address": f"{local.host}:{local.port}",
            "remote_type": remote.type, "remote_address": f"{remote.host}:{remote.port}",
            "generation": pair.generation,
        }
    return None
