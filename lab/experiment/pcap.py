"""RTP arrivals from a tcpdump capture (classic pcap, Ethernet or Linux cooked), to check the
agents' media timing against the wire.

SRTP leaves the RTP header in clear (RFC 3711), so SSRC and sequence number are readable.
Capture timestamps are CLOCK_REALTIME: compare differences (gaps), not instants, with the
agents' CLOCK_MONOTONIC times.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pandas as pd

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113


def _udp_payload(frame: bytes, linktype: int) -> bytes | None:
    if linktype == LINKTYPE_ETHERNET:
        offset, ethertype = 14, struct.unpack_from("!H", frame, 12)[0]
        if ethertype == 0x8100:  # VLAN tag
            offset, ethertype = 18, struct.unpack_from("!H", frame, 16)[0]
    elif linktype == LINKTYPE_LINUX_SLL:
        offset, ethertype = 16, struct.unpack_from("!H", frame, 14)[0]
    else:
        raise ValueError(f"unsupported pcap link type {linktype}")
    if ethertype != 0x0800 or len(frame) < offset + 20:
        return None
    ihl = (frame[offset] & 0x0F) * 4
    if frame[offset + 9] != 17:  # UDP
        return None
    return frame[offset + ihl + 8:]


def rtp_arrivals(path: str | Path) -> pd.DataFrame:
    """One row per RTP (not RTCP) packet: t_capture (s, realtime), ssrc, seq."""
    data = Path(path).read_bytes()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian, nano = "<", magic == b"\x4d\x3c\xb2\xa1"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian, nano = ">", magic == b"\xa1\xb2\x3c\x4d"
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    rows = []
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack_from(endian + "IIII", data, pos)
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        payload = _udp_payload(frame, linktype)
        if payload is None or len(payload) < 12 or payload[0] >> 6 != 2 or 192 <= payload[1] <= 223:
            continue
        seq = int.from_bytes(payload[2:4], "big")
        ssrc = int.from_bytes(payload[8:12], "big")
        rows.append((sec + frac / (1e9 if nano else 1e6), ssrc, seq))
    return pd.DataFrame(rows, columns=["t_capture", "ssrc", "seq"])
