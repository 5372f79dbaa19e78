"""Child process for test_relay_restart.py: two lab.rtc peers relayed by coturn, in a lab
namespace. Reads commands on stdin, reports JSON lines on stdout.

argv[1]: JSON {"first": <RTCIceServer dict>, "second": <RTCIceServer dict>, "address": str}
Commands: "restart" (same relay), "failover" (switch both peers to the second relay, restart).
Events: {"event": "connected"}, {"event": "generation", "number", "relays": [[host, port]...],
"media": bool}, {"event": "state", "peer", "state"}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiortc import RTCConfiguration, RTCIceServer
from aiortc.mediastreams import AudioStreamTrack
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import SessionDescription

from lab.rtc import DetectionConfig, IceOptions, MediaReceived, RTCPeerConnection


def say(**event: object) -> None:
    print(json.dumps(event), flush=True)


def relay_candidates(sdp: str) -> list[list[object]]:
    media = SessionDescription.parse(sdp).media[0]
    return [[c.ip, c.port] for c in media.ice_candidates if c.type == "relay"]


async def main(settings: dict[str, object]) -> None:
    def config(server: object) -> RTCConfiguration:
        return RTCConfiguration(
            iceServers=[RTCIceServer(**server)],  # type: ignore[arg-type]
            iceTransportPolicy=RTCIceTransportPolicy.RELAY,
        )

    detection = DetectionConfig(consent_interval=0.25, disconnected_after=0.8, failed_after=2.0)
    options = IceOptions(host_addresses=(str(settings["address"]),), use_ipv6=False)
    a = RTCPeerConnection(config(settings["first"]), detection=detection, ice=options)
    b = RTCPeerConnection(config(settings["first"]), detection=detection, ice=options)
    received: dict[int, int] = {}

    def on_media(event: MediaReceived) -> None:
        received[event.generation] = received.get(event.generation, 0) + 1

    b.on("mediareceived", on_media)
    for name, pc in (("a", a), ("b", b)):
        pc.on(
            "iceconnectionstatechange",
            lambda name=name, pc=pc: say(event="state", peer=name, state=pc.iceConnectionState),
        )
    a.addTrack(AudioStreamTrack())
    b.addTrack(AudioStreamTrack())
    # candidates trickle, as an app's signaling carries them, in order behind the descriptions:
    # a restart's relay-only description leaves before its relay candidate
    held: list[tuple[RTCPeerConnection, object]] = []
    negotiating = False

    def trickle(target: RTCPeerConnection, candidate: object) -> None:
        if negotiating:
            held.append((target, candidate))
        else:
            asyncio.ensure_future(target.addIceCandidate(candidate))

    for source, target in ((a, b), (b, a)):
        source.on("icecandidate", lambda candidate=None, target=target: trickle(target, candidate))

    async def negotiate() -> None:
        nonlocal negotiating
        negotiating = True
        await a.setLocalDescription()
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription()
        await a.setRemoteDescription(b.localDescription)
        negotiating = False
        for target, candidate in held:
            await target.addIceCandidate(candidate)
        held.clear()

    async def until(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    await negotiate()
    (transport,) = a.getIceTransports()

    async def report() -> None:
        number = transport.iceGatherer.described.number
        ok = await until(lambda: transport.activeGeneration.number == number)
        ok = ok and await until(lambda: received.get(number, 0) > 10)
        say(
            event="generation",
            number=number,
            relays=relay_candidates(a.localDescription.sdp),
            media=ok,
        )

    await report()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "restart":
            a.restartIce()
        elif line == "failover":
            await until(lambda: a.iceConnectionState == "failed", timeout=10)
            for pc in (a, b):
                pc.setConfiguration(config(settings["second"]))
            a.restartIce()
        await negotiate()
        await report()
    await a.close()
    await b.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
