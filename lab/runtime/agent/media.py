"""Synthetic media fit for timing: a silent 8 kHz audio track, one RTP packet every 20 ms.

The media unit is the RTP packet: its sequence number and SSRC identify it, and they travel in
clear even inside SRTP, so a packet capture at the receiver can check the agent's timings.
`RtpTap` reports every unit at the moment the DTLS transport hands it to ICE (media_tx) and the
moment it comes out of SRTP at the receiver (media_rx), with time.monotonic(). With lab.rtc's
peer connection, arrivals come from its "mediareceived" event instead: stamped as the datagram
leaves the socket, before queueing and decryption, closer to the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiortc import RTCDtlsTransport, RTCRtpSender
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack

from lab.contract import Emit
from lab.rtc import compat


def is_rtp(data: bytes) -> bool:
    # RTCP packet types 192..223 sit where RTP has marker + payload type (RFC 5761)
    return len(data) >= 12 and (data[0] >> 6) == 2 and not 192 <= data[1] <= 223


def rtp_seq_ssrc(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[2:4], "big"), int.from_bytes(data[8:12], "big")


class SilenceTrack(AudioStreamTrack):
    """aiortc's silent audio track: 160 samples of 8 kHz mono every 20 ms (cheap to encode)."""


class RtpTap:
    """Reports every media unit of the DTLS transports it is attached to (lab.rtc.compat.tap_rtp)."""

    def __init__(self, emit: Emit, rx: bool = True) -> None:
        self._emit = emit
        self._rx = rx
        self._tapped: set[int] = set()

    def attach(self, transport: RTCDtlsTransport) -> None:
        if id(transport) in self._tapped:
            return
        self._tapped.add(id(transport))
        emit = self._emit

        def sent(data: bytes) -> None:
            if is_rtp(data):
                seq, ssrc = rtp_seq_ssrc(data)
                emit("media_tx", seq=seq, ssrc=ssrc)

        def received(data: bytes) -> None:
            if is_rtp(data):
                seq, ssrc = rtp_seq_ssrc(data)
                emit("media_rx", t=time.monotonic(), seq=seq, ssrc=ssrc)

        compat.tap_rtp(transport, sent, received if self._rx else None)


def prefer_codec(transceiver: Any, codec: str) -> None:
    capabilities = RTCRtpSender.getCapabilities("audio")
    wanted = [c for c in capabilities.codecs if c.mimeType.lower() == f"audio/{codec.lower()}"]
    if wanted:
        transceiver.setCodecPreferences(wanted)


async def drain(track: MediaStreamTrack) -> None:
    """Consume a remote track so its decoded frames do not pile up."""
    with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
        while True:
            await track.recv()
