"""lab.experiment.pcap on hand-made captures: classification, merge into one pcapng (read back by
our reader and by tcpdump itself), and the clock mapping onto the events."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from lab.experiment import continuity
from lab.experiment.events import event_row, events_frame
from lab.experiment.pcap import (
    clock_offset,
    host_captures,
    merge_trial_captures,
    packets,
    read_pcapng,
    rtp_arrivals,
    trial_packets,
    wire_arrivals,
)


def udp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes(int(x) for x in src.split(".")), bytes(int(x) for x in dst.split(".")))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp


def rtp(seq: int, ssrc: int = 0xABCD) -> bytes:
    return bytes([0x80, 111]) + seq.to_bytes(2, "big") + b"\0\0\0\0" + ssrc.to_bytes(4, "big") + b"x" * 20


STUN = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"\0" * 12
DTLS = b"\x17\xfe\xfd" + b"\0" * 20


def write_pcap(path: Path, packets_in: list[tuple[float, bytes]]) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for t, frame in packets_in:
        sec = int(t)
        out.append(struct.pack("<IIII", sec, int(round((t - sec) * 1e6)), len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))


def test_classify_merge_and_read_back(tmp_path: Path) -> None:
    a = [(1000.000, udp_frame("10.0.0.1", 5000, "10.0.0.2", 6000, STUN)),
         (1000.020, udp_frame("10.0.0.1", 5000, "10.0.0.2", 6000, rtp(1)))]
    b = [(1000.010, udp_frame("10.0.0.2", 6000, "10.0.0.1", 5000, DTLS)),
         (1000.021, udp_frame("10.0.0.1", 5000, "10.0.0.2", 6000, rtp(1)))]
    write_pcap(tmp_path / "capture-alice.pcap", a)
    write_pcap(tmp_path / "capture-bob.pcap", b)
    table = packets(tmp_path / "capture-alice.pcap", "alice")
    assert table["kind"].tolist() == ["stun", "rtp"] and table["seq"].iloc[1] == 1
    # the same RTP relayed by TURN in ChannelData (channel 0x4000) is still that RTP unit
    relayed = tmp_path / "relayed.pcap"
    channel = b"\x40\x00" + len(rtp(7)).to_bytes(2, "big") + rtp(7)
    write_pcap(relayed, [(1000.5, udp_frame("10.0.0.3", 3478, "10.0.0.2", 6000, channel))])
    unit = rtp(8)
    data = b"\x00\x13" + len(unit).to_bytes(2, "big") + unit  # DATA attribute (its length is a multiple of 4)
    indication = b"\x00\x17" + len(data).to_bytes(2, "big") + b"\x21\x12\xa4\x42" + b"\0" * 12 + data
    write_pcap(relayed, [(1000.5, udp_frame("10.0.0.3", 3478, "10.0.0.2", 6000, channel)),
                         (1000.6, udp_frame("10.0.0.3", 3478, "10.0.0.2", 6000, indication))])
    assert packets(relayed)[["kind", "seq"]].values.tolist() == [["rtp", 7], ["rtp", 8]]
    assert rtp_arrivals(tmp_path / "capture-bob.pcap")[["ssrc", "seq"]].values.tolist() == [[0xABCD, 1]]
    assert set(host_captures(tmp_path)) == {"alice", "bob"}

    assert merge_trial_captures(tmp_path) == "capture.pcapng"
    merged = read_pcapng(tmp_path / "capture.pcapng")
    assert [(host, round(t, 3)) for host, t, _ in merged] == [
        ("alice", 1000.0), ("bob", 1000.01), ("alice", 1000.02), ("bob", 1000.021)]
    assert merged[1][2] == b[0][1]
    if shutil.which("tcpdump"):  # the real tool reads our pcapng
        done = subprocess.run(["tcpdump", "-n", "-r", str(tmp_path / "capture.pcapng")], capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.strip().splitlines()) == 4
    assert merge_trial_captures(tmp_path / "nothing") is None


def test_clock_offset_and_the_gap_from_the_wire(tmp_path: Path) -> None:
    # bob's capture sees units 0..199 every 20 ms but 30..59 (lost); the agent stamped them 0.4 ms
    # later on CLOCK_MONOTONIC, which is realtime - 5000 s here
    received = [k for k in range(200) if not 30 <= k < 60]
    write_pcap(tmp_path / "capture-bob.pcap",
               [(5100.0 + 0.02 * k, udp_frame("10.0.0.1", 5000, "10.0.0.2", 6000, rtp(k))) for k in received])
    rows = [event_row("t", "answerer", {"t": 100.0004 + 0.02 * k, "kind": "media_rx", "seq": k, "ssrc": 0xABCD})
            for k in received]
    events = events_frame(rows)
    table = trial_packets(tmp_path, events)
    assert clock_offset(table, events) == pytest.approx(5000.0 - 0.0004)
    wire = wire_arrivals(table, "bob", {0xABCD})
    assert wire[0] == pytest.approx(100.0004)
    agent = events["t_monotonic"].to_numpy()
    t_fault = 100.5
    [wire_outage] = continuity.outages(wire, t_fault, 104.0)
    [agent_outage] = continuity.outages(agent, t_fault, 104.0)
    assert wire_outage.duration_ms == pytest.approx(agent_outage.duration_ms) == pytest.approx(620.0)
