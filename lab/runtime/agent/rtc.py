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

from lab.rtc import IceOptions, PerfectNegotiator, compat
from lab.rtc import RTCPeerConnection as LabPeerConnection
from lab.contract import AgentConfig

__all__ = ["PerfectNegotiator", "make_peer_connection", "refresh_ice_options", "restartable"]


def restartable() -> bool:
    return os.environ.get("ICELAB_AGENT_PLAIN_AIORTC") != "1"


def make_peer_connection(config: AgentConfig) -> Any:
    servers = [RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in config.ice_servers]
    policy = RTCIceTransportPolicy.RELAY if config.ice_transport_policy == "relay" else RTCIceTransportPolicy.ALL
    rtc_config = RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)
    if not restartable():
        return aiortc.RTCPeerConnection(configuration=rtc_config)
    return LabPeerConnection(configuration=rtc_config, detection=config.detection.to_rtc(), ice=ice_options())


def ice_options() -> IceOptions:
    """Gather on the namespace's usable interfaces only (read again before every restart)."""
    from lab.runtime.agent.interfaces import usable_ipv4_addresses

    addresses = usable_ipv4_addresses()
    return IceOptions(host_addresses=tuple(addresses) if addresses else None, use_ipv6=False)


def refresh_ice_options(pc: Any) -> None:
    if isinstance(pc, LabPeerConnection):
        pc.setIceOptions(ice_options())


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
