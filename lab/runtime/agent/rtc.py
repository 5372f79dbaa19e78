"""The agent's view of the peer connection: lab.rtc's restartable one when it is there.

Everything the agent needs from the WebRTC stack goes through here, so the session code does
not care whether lab.rtc (restartIce, 'disconnected', perfect negotiation) is installed or only
plain aiortc (connects once, cannot restart: used only while lab.rtc was being built).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import aiortc
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from lab.runtime.agent.config import AgentConfig

try:  # the restartable peer connection (issue: ICE restart for aiortc)
    from lab.rtc import RTCPeerConnection as LabPeerConnection  # type: ignore[attr-defined]
except ImportError:
    LabPeerConnection = None

try:
    from lab.rtc.negotiation import PerfectNegotiator
except ImportError:
    PerfectNegotiator = None  # type: ignore[assignment,misc]

try:
    from lab.rtc.options import DetectionConfig, IceOptions
except ImportError:
    DetectionConfig = IceOptions = None  # type: ignore[assignment,misc]


def restartable() -> bool:
    if os.environ.get("ICELAB_AGENT_PLAIN_AIORTC") == "1":  # diagnosis: lab.rtc vs. aiortc itself
        return False
    return LabPeerConnection is not None and hasattr(LabPeerConnection, "restartIce")


def make_peer_connection(config: AgentConfig) -> Any:
    servers = [RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in config.ice_servers]
    policy = RTCIceTransportPolicy.RELAY if config.ice_transport_policy == "relay" else RTCIceTransportPolicy.ALL
    rtc_config = RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)
    if not restartable():
        return aiortc.RTCPeerConnection(configuration=rtc_config)
    kwargs: dict[str, Any] = {}
    params = inspect.signature(LabPeerConnection.__init__).parameters
    if DetectionConfig is not None and "detection" in params:
        d = config.detection
        kwargs["detection"] = DetectionConfig(
            consent_interval=d.consent_interval_s,
            disconnected_after=d.disconnected_after_s,
            failed_after=d.failed_after_s,
        )
    options = ice_options()
    if options is not None and "ice" in params:
        kwargs["ice"] = options
    return LabPeerConnection(configuration=rtc_config, **kwargs)


def ice_options() -> Any:
    """Gather on the namespace's usable interfaces only (read again before every restart)."""
    if IceOptions is None:
        return None
    from lab.runtime.agent.interfaces import usable_ipv4_addresses

    addresses = usable_ipv4_addresses()
    return IceOptions(host_addresses=tuple(addresses) if addresses else None, use_ipv6=False)


def refresh_ice_options(pc: Any) -> None:
    options = ice_options()
    if options is not None and hasattr(pc, "setIceOptions"):
        pc.setIceOptions(options)


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
