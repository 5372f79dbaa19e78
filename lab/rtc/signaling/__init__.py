"""Signaling for the lab's peers: a WebSocket server, a reconnecting client, impairments.

    server:  python -m lab.rtc.signaling.server --host ADDR --port P   (prints a JSON ready line)
             or `async with SignalingServer(host, port) as server: server.url`
    client:  SignalingClient.create(url, room, peer, impairments=SignalingImpairments(...))
             await client.start(); client.send({...}); client.on("message", fn); client.on("state", fn)
    tests:   pair = MemoryChannelPair(a_to_b_impairments, b_to_a_impairments); pair.start()
    probe:   python -m lab.rtc.signaling.probe --url URL --room R --peer P   (JSON lines in/out)

Wire frames (JSON): client -> server {"t": "join", room, peer, inc} first; the server answers
{"t": "joined", present} or {"t": "error", reason} (room full), and later sends {"t": "presence",
peer, present}. Between peers it relays {"t": "msg", src, inc, seq, base, id, body} and {"t": "ack",
src, for, ack}: per-sender sequence numbers, cumulative acks, resend until acked (see reliable.py).
"""

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
