"""Two in-process peers on loopback, media and data counters, and a path cutter for tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration
from aiortc.mediastreams import AudioStreamTrack

from lab.rtc import DetectionConfig, IceOptions, MediaReceived, RTCPeerConnection

LOOPBACK = ("127.0.0.1",)
FAST = DetectionConfig(consent_interval=0.2, disconnected_after=0.6, failed_after=1.5)


def make_peer(
    detection: DetectionConfig = FAST, addresses: tuple[str, ...] = LOOPBACK, **ice: Any
) -> RTCPeerConnection:
    # no ICE servers: nothing may leave the machine (aiortc's default is a public STUN server)
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[]),
        detection=detection,
        ice=IceOptions(host_addresses=addresses, **ice),
    )


async def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


async def negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription()
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription()
    await offerer.setRemoteDescription(answerer.localDescription)


@dataclass(eq=False)
class MediaLog:
    """RTP packets a peer received, per generation, with gap counting per SSRC."""

    events: list[MediaReceived] = field(default_factory=list)

    def __call__(self, event: MediaReceived) -> None:
        self.events.append(event)

    def count(self, generation: int | None = None) -> int:
        return sum(1 for e in self.events if generation is None or e.generation == generation)

    def lost(self) -> int:
        """Packets missing from the sequence-number runs (ignores reordering)."""
        by_ssrc: dict[int, set[int]] = {}
        for event in self.events:
            by_ssrc.setdefault(event.ssrc, set()).add(event.sequence_number)
        missing = 0
        for numbers in by_ssrc.values():
            ordered = sorted(numbers)
            if ordered[-1] - ordered[0] > 60000:  # wrapped: unwrap the low half
                ordered = sorted(n + 65536 if n < 32768 else n for n in numbers)
            missing += (ordered[-1] - ordered[0] + 1) - len(ordered)
        return missing


@dataclass
class Call:
    a: RTCPeerConnection
    b: RTCPeerConnection
    media_a: MediaLog
    media_b: MediaLog
    channel: Any
    received: list[str]
    states: dict[str, list[str]]

    async def close(self) -> None:
        generations = [
            g for pc in (self.a, self.b) for t in pc.getIceTransports() for g in t.generations
        ]
        await self.a.close()
        await self.b.close()
        # nothing left open: every generation, lingering or pending, closed its sockets
        for generation in generations:
            assert generation.phase == "closed", generation
            assert not generation.connection.lab_protocols, generation

    def transport(self, pc: RTCPeerConnection) -> Any:
        (transport,) = pc.getIceTransports()
        return transport


def trickle_between(a: RTCPeerConnection, b: RTCPeerConnection) -> list[asyncio.Task[Any]]:
    """Each side's 'icecandidate' events go to the other's addIceCandidate, in order (a
    signaling channel with no delay). Returns the tasks started, for inspection."""
    tasks: list[asyncio.Task[Any]] = []

    def forward(target: RTCPeerConnection) -> Callable[[Any], None]:
        def on_candidate(candidate: Any = None) -> None:
            tasks.append(asyncio.ensure_future(target.addIceCandidate(candidate)))

        return on_candidate

    a.on("icecandidate", forward(b))
    b.on("icecandidate", forward(a))
    return tasks


async def start_call(a: RTCPeerConnection, b: RTCPeerConnection) -> Call:
    """Audio both ways and a data channel a -> b, negotiated and flowing; candidates trickle."""
    trickle_between(a, b)
    media_a, media_b = MediaLog(), MediaLog()
    a.on("mediareceived", media_a)
    b.on("mediareceived", media_b)
    states: dict[str, list[str]] = {"a": [], "b": []}
    a.on("iceconnectionstatechange", lambda: states["a"].append(a.iceConnectionState))
    b.on("iceconnectionstatechange", lambda: states["b"].append(b.iceConnectionState))
    a.addTrack(AudioStreamTrack())
    b.addTrack(AudioStreamTrack())
    channel = a.createDataChannel("chat")
    received: list[str] = []

    @b.on("datachannel")
    def on_datachannel(incoming: Any) -> None:
        incoming.on("message", received.append)

    await negotiate(a, b)
    await wait_for(lambda: channel.readyState == "open", what="data channel open")
    await wait_for(lambda: media_a.count() > 5 and media_b.count() > 5, what="media both ways")
    return Call(a, b, media_a, media_b, channel, received, states)


class PathCut:
    """Drops every datagram to and from the sockets of the given ICE generations.

    A faithful cut: the packets are really sent and received by the kernel on 127.0.0.1 but
    vanish at the socket, in both directions, exactly like a blackholed route or a NAT binding
    that expired. Sockets gathered later (a restart's new generation) are not affected, as an
    interface that came up after the outage would not be.
    """

    def __init__(self) -> None:
        self.active = False
        self.dropped = 0
        self._patched: set[int] = set()

    def apply_to(self, pc: RTCPeerConnection) -> None:
        for transport in pc.getIceTransports():
            for generation in transport.generations:
                for protocol in generation.connection.lab_protocols:
                    self._patch(protocol)

    def _patch(self, protocol: Any) -> None:
        if id(protocol) in self._patched:
            return
        self._patched.add(id(protocol))
        inbound = protocol.datagram_received
        outbound = protocol.transport.sendto

        def datagram_received(data: bytes, addr: Any) -> None:
            if self.active:
                self.dropped += 1
                return
            inbound(data, addr)

        def sendto(data: bytes, addr: Any = None) -> None:
            if self.active:
                self.dropped += 1
                return
            outbound(data, addr)

        protocol.datagram_received = datagram_received
        protocol.transport.sendto = sendto


def cut_generation(cut: PathCut, generation: Any) -> None:
    """Put one generation's sockets behind `cut` (others stay untouched)."""
    for protocol in generation.connection.lab_protocols:
        cut._patch(protocol)
