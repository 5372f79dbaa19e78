"""Packet truth: tcpdump captures (classic pcap, Ethernet or Linux cooked) read, classified and
merged into one pcapng per trial, on one clock.

Every host's tcpdump stamps packets with CLOCK_REALTIME (one clock for the whole machine: network
namespaces do not change it), so the captures of a trial merge into one timeline as they are.
The agents' events are CLOCK_MONOTONIC: `clock_offset` maps one onto the other from the RTP units
both saw (the receiving agent's media_rx and the receiving host's capture of the same SSRC and
sequence number), so a capture can be read against the events and the metrics can be recomputed
from the wire (`wire_arrivals`).

SRTP leaves the RTP header in clear (RFC 3711), so SSRC and sequence number are readable. Packets
are classified by their first byte as RFC 7983 demultiplexes them (STUN 0-3, DTLS 20-63, TURN
channel data 64-79, RTP/RTCP 128-191); TCP to or from the signaling port is signaling. RTP inside
TURN ChannelData or a Send/Data indication (a relayed call) counts as RTP.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
KINDS = ("stun", "dtls", "rtp", "rtcp", "turn-channel", "signaling", "other")
TRIAL_CAPTURE = "capture.pcapng"
PACKET_COLUMNS = ["t_capture", "host", "proto", "src", "sport", "dst", "dport", "length", "kind", "ssrc", "seq",
                  "digest"]


def _frames(path: Path) -> tuple[int, Iterator[tuple[float, bytes]]]:
    data = Path(path).read_bytes()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian, nano = "<", magic == b"\x4d\x3c\xb2\xa1"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian, nano = ">", magic == b"\xa1\xb2\x3c\x4d"
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    linktype = struct.unpack_from(endian + "I", data, 20)[0]

    def frames() -> Iterator[tuple[float, bytes]]:
        pos = 24
        while pos + 16 <= len(data):
            sec, frac, caplen, _ = struct.unpack_from(endian + "IIII", data, pos)
            yield sec + frac / (1e9 if nano else 1e6), data[pos + 16:pos + 16 + caplen]
            pos += 16 + caplen

    return linktype, frames()


def _ip_packet(frame: bytes, linktype: int) -> bytes | None:
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        offset, ethertype = 14, struct.unpack_from("!H", frame, 12)[0]
        if ethertype == 0x8100 and len(frame) >= 18:  # VLAN tag
            offset, ethertype = 18, struct.unpack_from("!H", frame, 16)[0]
    elif linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        offset, ethertype = 16, struct.unpack_from("!H", frame, 14)[0]
    else:
        raise ValueError(f"unsupported pcap link type {linktype}")
    if ethertype != 0x0800 or len(frame) < offset + 20:
        return None
    return frame[offset:]


def _addr(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def classify(proto: str, payload: bytes, sport: int, dport: int, signaling_port: int | None) -> str:
    if proto == "tcp":
        return "signaling" if signaling_port in (sport, dport) else "other"
    if not payload:
        return "other"
    first = payload[0]
    if first <= 3:
        return "stun"
    if 20 <= first <= 63:
        return "dtls"
    if 64 <= first <= 79:
        return "turn-channel"
    if 128 <= first <= 191 and len(payload) >= 12:
        return "rtcp" if 192 <= payload[1] <= 223 else "rtp"
    return "other"


STUN_SEND_INDICATION, STUN_DATA_INDICATION, STUN_DATA_ATTRIBUTE = 0x0016, 0x0017, 0x0013


def _turn_data(kind: str, payload: bytes) -> bytes | None:
    """The datagram a TURN message carries (RFC 8656: ChannelData, or the DATA attribute of a Send
    or Data indication), else None."""
    if kind == "turn-channel" and len(payload) >= 4:
        return payload[4:4 + int.from_bytes(payload[2:4], "big")]
    if kind != "stun" or len(payload) < 20:
        return None
    if int.from_bytes(payload[0:2], "big") not in (STUN_SEND_INDICATION, STUN_DATA_INDICATION):
        return None
    pos, end = 20, min(len(payload), 20 + int.from_bytes(payload[2:4], "big"))
    while pos + 4 <= end:
        attribute, length = int.from_bytes(payload[pos:pos + 2], "big"), int.from_bytes(payload[pos + 2:pos + 4], "big")
        if attribute == STUN_DATA_ATTRIBUTE:
            return payload[pos + 4:pos + 4 + length]
        pos += 4 + length + (4 - length % 4) % 4
    return None


def packets(path: str | Path, host: str = "", signaling_port: int | None = None) -> pd.DataFrame:
    """One row per IPv4 UDP/TCP packet of a capture (PACKET_COLUMNS; t_capture in s, realtime)."""
    linktype, frames = _frames(Path(path))
    rows = []
    for t, frame in frames:
        ip = _ip_packet(frame, linktype)
        if ip is None:
            continue
        ihl = (ip[0] & 0x0F) * 4
        protocol = ip[9]
        src, dst = _addr(ip[12:16]), _addr(ip[16:20])
        body = ip[ihl:]
        if protocol == 17 and len(body) >= 8:
            proto, (sport, dport) = "udp", struct.unpack_from("!HH", body, 0)
            payload = body[8:]
        elif protocol == 6 and len(body) >= 20:
            proto, (sport, dport) = "tcp", struct.unpack_from("!HH", body, 0)
            payload = body[(body[12] >> 4) * 4:]
            if not payload:
                continue  # bare ACKs and handshakes: not signaling content
        else:
            continue
        kind = classify(proto, payload, sport, dport, signaling_port)
        carried = _turn_data(kind, payload)  # relayed media: TURN ChannelData or Send/Data indications
        if carried is not None:
            inner = classify("udp", carried, sport, dport, None)
            if inner in ("rtp", "rtcp"):
                kind, payload = inner, carried
        ssrc = seq = None
        if kind == "rtp":
            seq = int.from_bytes(payload[2:4], "big")
            ssrc = int.from_bytes(payload[8:12], "big")
        # the same datagram seen at two hosts has the same payload (NAT rewrites the headers only)
        digest = hashlib.blake2b(payload[:64] + len(payload).to_bytes(4, "big"), digest_size=8).hexdigest()
        rows.append((t, host, proto, src, sport, dst, dport, len(payload), kind, ssrc, seq, digest))
    return pd.DataFrame(rows, columns=PACKET_COLUMNS)


def rtp_arrivals(path: str | Path) -> pd.DataFrame:
    """One row per RTP (not RTCP) packet: t_capture (s, realtime), ssrc, seq."""
    table = packets(path)
    rtp = table[table["kind"] == "rtp"]
    return rtp[["t_capture", "ssrc", "seq"]].astype({"ssrc": "int64", "seq": "int64"}).reset_index(drop=True)


def host_captures(trial_dir: Path) -> dict[str, Path]:
    """The per-host captures of a trial folder: host -> capture-<host>.pcap."""
    return {p.stem.removeprefix("capture-"): p for p in sorted(Path(trial_dir).glob("capture-*.pcap"))}


def clock_offset(captured: pd.DataFrame, events: pd.DataFrame) -> float:
    """realtime - monotonic (s), from the RTP units a capture and an agent's media_rx both saw:
    the median over the matched units of (the unit's last capture - its media_rx), the last
    capture being its arrival at the receiving host (NaN when none match)."""
    rx = events[events["kind"] == "media_rx"]
    rtp = captured[captured["kind"] == "rtp"]
    if not len(rx) or not len(rtp):
        return math.nan
    seen = rtp.groupby(["ssrc", "seq"])["t_capture"].max()
    keys = list(zip(rx["ssrc"].astype("int64"), rx["seq"].astype("int64"), strict=False))
    offsets = [seen[k] - t for k, t in zip(keys, rx["t_monotonic"].to_numpy(dtype=float), strict=False) if k in seen.index]
    return float(np.median(offsets)) if offsets else math.nan


def trial_packets(trial_dir: Path, events: pd.DataFrame, signaling_port: int | None = None) -> pd.DataFrame:
    """Every host's packets of a trial on the events' clock (column t_monotonic), earliest first."""
    tables = [packets(path, host, signaling_port) for host, path in host_captures(trial_dir).items()]
    tables = [t.astype({"ssrc": "Int64", "seq": "Int64"}) for t in tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=PACKET_COLUMNS + ["t_monotonic"])
    table = pd.concat(tables, ignore_index=True)
    offset = clock_offset(table, events)
    table["t_monotonic"] = table["t_capture"] - offset
    return table.sort_values("t_capture", kind="stable").reset_index(drop=True)


def wire_arrivals(table: pd.DataFrame, host: str, ssrcs: set[int]) -> np.ndarray:
    """Arrival times (events' clock) at a host of the RTP units of the given SSRCs, first copy each."""
    rtp = table[(table["host"] == host) & (table["kind"] == "rtp")]
    rtp = rtp[rtp["ssrc"].astype("int64").isin(ssrcs)]
    return np.sort(rtp.groupby(["ssrc", "seq"])["t_monotonic"].min().to_numpy(dtype=float))


# ----- pcapng ----------------------------------------------------------------------------

def _option(code: int, value: bytes) -> bytes:
    pad = (4 - len(value) % 4) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\0" * pad


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def merge(captures: Mapping[str, Path], out: Path, comment: str = "") -> int:
    """Write one pcapng with an interface per host capture and every packet in time order (the
    hosts' realtime stamps: one clock). Returns the number of packets written."""
    interfaces: list[tuple[str, int]] = []
    packets_in: list[tuple[float, int, bytes]] = []
    for host, path in captures.items():
        linktype, frames = _frames(Path(path))
        index = len(interfaces)
        interfaces.append((host, linktype))
        packets_in.extend((t, index, frame) for t, frame in frames)
    packets_in.sort(key=lambda p: p[0])
    options = (_option(1, comment.encode()) if comment else b"") + _option(0, b"")
    blocks = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + options)]
    for host, linktype in interfaces:
        # if_name, if_tsresol = 6 (microseconds)
        body = struct.pack("<HHI", linktype, 0, 0) + _option(2, host.encode()) + _option(9, b"\x06") + _option(0, b"")
        blocks.append(_block(0x00000001, body))
    for t, index, frame in packets_in:
        stamp = int(round(t * 1e6))
        pad = (4 - len(frame) % 4) % 4
        body = struct.pack("<IIIII", index, stamp >> 32, stamp & 0xFFFFFFFF, len(frame), len(frame)) + frame + b"\0" * pad
        blocks.append(_block(0x00000006, body))
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(b"".join(blocks))
    tmp.replace(out)
    return len(packets_in)


def read_pcapng(path: Path) -> list[tuple[str, float, bytes]]:
    """(interface name, realtime s, frame) of every packet of a pcapng written by `merge`."""
    data = Path(path).read_bytes()
    pos, names, out = 0, [], []
    while pos + 12 <= len(data):
        block_type, length = struct.unpack_from("<II", data, pos)
        body = data[pos + 8:pos + length - 4]
        if block_type == 1:
            name, opt = "", 8
            while opt + 4 <= len(body):
                code, size = struct.unpack_from("<HH", body, opt)
                if code == 0:
                    break
                if code == 2:
                    name = body[opt + 4:opt + 4 + size].decode()
                opt += 4 + size + (4 - size % 4) % 4
            names.append(name)
        elif block_type == 6:
            index, high, low, caplen, _ = struct.unpack_from("<IIIII", body, 0)
            out.append((names[index], ((high << 32) | low) / 1e6, body[20:20 + caplen]))
        pos += length
    return out


def merge_trial_captures(trial_dir: Path) -> str | None:
    """The trial's per-host captures merged into one pcapng on one clock (the per-host files
    stay); the merged file's name, or None when the trial captured nothing."""
    captures = host_captures(trial_dir)
    if not captures:
        return None
    try:
        merge(captures, trial_dir / TRIAL_CAPTURE, comment="icelab trial capture: every host, CLOCK_REALTIME stamps; "
              "the events' CLOCK_MONOTONIC = realtime - offset (lab.experiment.pcap.clock_offset)")
    except (OSError, ValueError) as error:
        (trial_dir / "capture-merge-error.txt").write_text(f"{type(error).__name__}: {error}\n")
        return None
    return TRIAL_CAPTURE
