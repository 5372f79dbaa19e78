"""Child for test_relay_nat.py: one lab.rtc peer inside a lab.net host namespace.

Same JSON-lines protocol as tests/turn/peer_proc.py (stdin: descriptions; stdout: description,
state, pair, media, dtls events), but the peer is lab.rtc's RTCPeerConnection gathering host
candidates on the namespace's usable addresses, the way the peer agent does.
argv[1]: JSON {"role": "offer"|"answer", "ice_servers": [...], "policy": "relay"|"all",
"host_addresses": bool}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiortc import AudioStreamTrack, RTCConfiguration, RTCIceServer, RTCSessionDescription
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from lab.rtc import IceOptions, RTCPeerConnection, SelectedPairChange
from lab.runtime.agent.interfaces import usable_ipv4_addresses


def emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


async def main() -> None:
    options = json.loads(sys.argv[1])
    servers = [RTCIceServer(**server) for server in options["ice_servers"]]
    config = RTCConfiguration(
        iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy(options["policy"])
    )
    ice = IceOptions(trickle=False)
    if options["host_addresses"]:
        # this child sends descriptions only (no trickled candidates): gather fully first
        ice = IceOptions(host_addresses=tuple(usable_ipv4_addresses()), use_ipv6=False, trickle=False)
    pc = RTCPeerConnection(config, ice=ice)
    pc.addTrack(AudioStreamTrack())
    frames = [0]

    @pc.on("mediareceived")
    def on_media(_event: object) -> None:
        frames[0] += 1

    @pc.on("selectedcandidatepairchange")
    def on_pair(change: SelectedPairChange) -> None:
        emit("pair", local=change.pair.local_type, remote=change.pair.remote_type)

    @pc.on("connectionstatechange")
    def on_state() -> None:
        emit("state", state=pc.connectionState)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    if options["role"] == "offer":
        await pc.setLocalDescription()
        emit("description", sdp=pc.localDescription.sdp, type=pc.localDescription.type)

    async def report_media() -> None:
        while True:
            await asyncio.sleep(0.2)
            count, frames[0] = frames[0], 0
            if count:
                emit("media", frames=count)

    reporter = asyncio.ensure_future(report_media())
    while line := await reader.readline():
        message = json.loads(line)
        if message.get("cmd") == "quit":
            break
        await pc.setRemoteDescription(RTCSessionDescription(**message))
        if message["type"] == "offer":
            await pc.setLocalDescription()
            emit("description", sdp=pc.localDescription.sdp, type=pc.localDescription.type)
    reporter.cancel()
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
