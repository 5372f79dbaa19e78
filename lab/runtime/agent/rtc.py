"""The agent's view of the peer connection: lab.rtc's restartable one.

Everything the agent needs from the WebRTC stack goes through here. ICELAB_AGENT_PLAIN_AIORTC=1
runs plain aiortc instead (connects once, cannot restart, no 'disconnected'): a baseline for
telling lab.rtc's behaviour from aiortc's own.
"""

from __future__ import annotations

import os
from typing import Any

import aiortc
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from lab.rtc import DetectionConfig, IceOptions, PerfectNegotiator
from lab.rtc import RTCPeerConnection as LabPeerConnection
from lab.runtime.agent.config import AgentConfig

__all__ = ["PerfectNegotiator", "make_peer_connection", "refresh_ice_options", "restartable"]


def restartable() -> bool:
    return os.environ.get("ICELAB_AGENT_PLAIN_AIORTC") != "1"


def make_peer_connection(config: AgentConfig) -> Any:
    servers = [RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in config.ice_servers]
    policy = RTCIceTransportPolicy.RELAY if config.ice_transport_policy == "relay" else RTCIceTransportPolicy.ALL
    rtc_config = RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)
    if not restartable():
        return aiortc.RTCPeerConnection(configuration=rtc_config)
    d = config.detection
    detection = DetectionConfig(consent_interval=d.consent_interval_s, disconnected_after=d.disconnected_after_s,
                                failed_after=d.failed_after_s)
    global _profile
    _profile = config.rtc_profile
    if _profile is not None:
        from lab.rtc.profiles import apply_detection

        detection, _ = apply_detection(_profile, detection)
    return LabPeerConnection(configuration=rtc_config, detection=detection, ice=ice_options())


# the agent's lab.rtc profile (one peer per agent process), applied to every generation's options
_profile: str | None = None


def profile_skipped() -> list[str]:
    """Options of the agent's profile that this lab.rtc does not have (reported in agent_ready)."""
    if _profile is None:
        return []
    from lab.rtc.profiles import apply_detection, apply_ice

    return apply_detection(_profile, DetectionConfig())[1] + apply_ice(_profile, IceOptions())[1]


def ice_options() -> IceOptions:
    """Gather on the namespace's usable interfaces only (read again before every restart)."""
    from lab.runtime.agent.interfaces import usable_ipv4_addresses

    addresses = usable_ipv4_addresses()
    options = IceOptions(host_addresses=tuple(addresses) if addresses else None, use_ipv6=False)
    if _profile is not None:
        from lab.rtc.profiles import apply_ice

        options, _ = apply_ice(_profile, options)
    return options


def refresh_ice_options(pc: Any) -> None:
    if isinstance(pc, LabPeerConnection):
        pc.setIceOptions(ice_options())


def selected_pair(pc: Any) -> dict[str, Any] | None:
    """The selected candidate pair of the pc's (bundled) transport, or None."""
    for transceiver in pc.getTransceivers():
        transport = transceiver.sender.transport
        if transport is None:
            continue
        ice = transport.transport
        getter = getattr(ice, "selectedCandidatePair", None) or getattr(ice, "getSelectedCandidatePair", None)
        pair = getter() if callable(getter) else getter
        generation = getattr(ice, "generation", None)
        if pair is None:
            connection = getattr(ice, "_connection", None)
            if connection is None:
                return None
            pick = getattr(connection, "lab_selected_pair", None)
            pair = pick() if callable(pick) else getattr(connection, "_nominated", {}).get(1)
            generation = getattr(connection, "lab_generation", generation)
        if pair is None:
            return None
        local = getattr(pair, "local_candidate", None) or getattr(pair, "local", None)
        remote = getattr(pair, "remote_candidate", None) or getattr(pair, "remote", None)
        if local is None or remote is None:
            return None
        return {
            "local_type": local.type, "local_address": f"{local.host}:{local.port}",
            "remote_type": remote.type, "remote_address": f"{remote.host}:{remote.port}",
            "generation": generation,
        }
    return None
