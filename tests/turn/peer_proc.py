"""A minimal aiortc peer for relay tests, run inside a lab namespace.

Talks JSON lines: stdin gets {"sdp":..., "type":...}; stdout gets {"event": ...} lines:
  description (our offer/answer), state (iceConnectionState), pair (selected candidate types),
  media (audio frames received in the last window), error (log lines from lab.turn).
argv[1]: JSON {"role": "offer"|"answer", "ice_servers": [...], "policy": "relay"|"all"}.
Not the lab's peer agent (lab.rtc / the orchestrator own that); just enough to see a relayed call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time

from aiortc import AudioStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from lab.turn import diagnostics


def emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


class EmitErrors(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102
        globals()["emit"]("log", level=record.levelname, line=record.getMessage())


def selected_pair(pc: RTCPeerConnection) -> dict[str, str] | None:
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport._connection
        nominated = getattr(connection, "_nominated", {})
        if 1 in nominated:
            pair = nominated[1]
            return {"local": pair.local_candidate.type, "remote": pair.remote_candidate.type,
                    "local_addr": f"{pair.local_candidate.host}:{pair.local_candidate.port}",
                    "remote_addr": f"{pair.remote_candidate.host}:{pair.remote_candidate.port}"}
    return None


async def count_frames(track, counter: list[int]) -> None:  # type: ignore[no-untyped-def]
    while True:
        try:
            await track.recv()
        except Exception:
            return
        counter[0] += 1


async def main() -> None:
    options = json.loads(sys.argv[1])
    handler = EmitErrors(level=logging.ERROR)
    logging.getLogger("lab.turn").addHandler(handler)
    logging.getLogger("lab.turn").propagate = False

    servers = [RTCIceServer(**server) for server in options["ice_servers"]]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers,
                                            iceTransportPolicy=RTCIceTransportPolicy(
                                                options.get("policy", "relay"))))
    counter = [0]
    pc.addTrack(AudioStreamTrack())

    @pc.on("track")
    def on_track(track) -> None:  # type: ignore[no-untyped-def]
        asyncio.ensure_future(count_frames(track, counter))

    @pc.on("iceconnectionstatechange")
    def on_state() -> None:
        emit("state", state=pc.iceConnectionState)
        if pc.iceConnectionState in ("connected", "completed"):
            emit("pair", **(selected_pair(pc) or {}))

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    if options["role"] == "offer":
        await pc.setLocalDescription(await pc.createOffer())
        emit("description", sdp=pc.localDescription.sdp, type=pc.localDescription.type)

    async def report_media() -> None:
        while True:
            await asyncio.sleep(0.2)
            frames, counter[0] = counter[0], 0
            if frames:
                emit("media", frames=frames)

    reporter = asyncio.ensure_future(report_media())
    while True:
        line = await reader.readline()
        if not line:
            break
        message = json.loads(line)
        if message.get("cmd") == "quit":
            break
        await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"],
                                                            type=message["type"]))
        if message["type"] == "offer":
            await pc.setLocalDescription(await pc.createAnswer())
            emit("description", sdp=pc.localDescription.sdp, type=pc.localDescription.type)
    reporter.cancel()
    await pc.close()


if __name__ == "__main__":
    with diagnostics.logging_failed_allocations():
        asyncio.run(main())
