"""Signaling for the lab's peers: a WebSocket server, a reconnecting client, impairments."""

from lab.rtc.signaling.channel import MemoryChannel, MemoryChannelPair, SignalingChannel
from lab.rtc.signaling.client import Keepalive, ReconnectBackoff, SignalingClient, SignalingClientConfig
from lab.rtc.signaling.impairments import OutageWindow, SignalingImpairments
from lab.rtc.signaling.reliable import ReliableSession
from lab.rtc.signaling.server import SignalingServer

__all__ = [
    "Keepalive",
    "MemoryChannel",
    "MemoryChannelPair",
    "OutageWindow",
    "ReconnectBackoff",
    "ReliableSession",
    "SignalingChannel",
    "SignalingClient",
    "SignalingClientConfig",
    "SignalingImpairments",
    "SignalingServer",
]
