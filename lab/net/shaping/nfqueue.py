"""A minimal nfnetlink_queue client: bind one queue, receive packet ids, give verdicts later.

Only metadata is copied to userspace (the shaper never reads or rewrites payloads), so the
cost per packet is one small netlink message in and one out.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterable, Iterator

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2

NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_GSO = 0x4

_PACKET_MSG = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
NF_DROP = 0
NF_ACCEPT = 1

NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
SO_RCVBUFFORCE = 33

_NLMSGHDR = struct.Struct("=IHHII")
_NLMSG_LEN_TYPE = struct.Struct("=IH")
_NFGENMSG = struct.Struct("!BBH")
_NLA = struct.Struct("=HH")
_PACKET_ID = struct.Struct("!I")
_VERDICT = struct.Struct("!II")


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attr(kind: int, payload: bytes) -> bytes:
    body = _NLA.pack(_NLA.size + len(payload), kind) + payload
    return body + b"\0" * (_align(len(body)) - len(body))


class NfQueue:
    """One bound queue. Packets are identified by their kernel id until a verdict is given."""

    def __init__(self, queue_num: int, max_len: int = 10_000, rcvbuf: int = 8 << 20) -> None:
        self.queue_num = queue_num
        self._seq = 0
        self._buf = bytearray(65536)
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
            self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
            self.sock.bind((0, 0))
            self._request(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)))
            self._request(
                _attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))
                + _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", max_len))
                + _attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_GSO))
                + _attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_GSO))
            )
        except BaseException:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def _message(self, msg_type: int, flags: int, payload: bytes) -> bytes:
        self._seq += 1
        body = _NFGENMSG.pack(socket.AF_UNSPEC, 0, self.queue_num) + payload
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self._seq, 0
        )
        return header + body

    def _request(self, attrs: bytes) -> None:
        """Sends a config message and waits for the kernel's acknowledgement."""
        self.sock.send(self._message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, attrs))
        seq = self._seq
        while True:
            data = self.sock.recv(65536)
            for msg_type, msg_seq, payload in _messages(data):
                if msg_type == NLMSG_ERROR and msg_seq == seq:
                    code = -struct.unpack_from("=i", payload)[0]
                    if code:
                        raise OSError(code, f"nfqueue {self.queue_num}: {os.strerror(code)}")
                    return

    def receive(self) -> list[int]:
        """Ids of every packet waiting in the socket now (never blocks)."""
        ids: list[int] = []
        buf = self._buf
        while True:
            try:
                size = self.sock.recv_into(buf, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return ids
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    continue
                raise
            offset = 0
            while offset + _NLMSGHDR.size <= size:
                length, msg_type = _NLMSG_LEN_TYPE.unpack_from(buf, offset)
                if length < _NLMSGHDR.size:
                    break
                if msg_type == _PACKET_MSG:
                    packet_id = _packet_id(buf, offset + _NLMSGHDR.size + _NFGENMSG.size, offset + length)
                    if packet_id is not None:
                        ids.append(packet_id)
                offset += _align(length)

    def verdicts(self, packet_ids: Iterable[int], verdict: int = NF_ACCEPT) -> None:
        """Gives one verdict per packet; many verdicts travel in one datagram."""
        batch: list[bytes] = []
        size = 0
        for packet_id in packet_ids:
            msg = self._message(
                NFQNL_MSG_VERDICT, NLM_F_REQUEST,
                _attr(NFQA_VERDICT_HDR, _VERDICT.pack(verdict, packet_id)),
            )
            batch.append(msg)
            size += len(msg)
            if size > 32_000:
                self.sock.send(b"".join(batch))
                batch, size = [], 0
        if batch:
            self.sock.send(b"".join(batch))


def _messages(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, msg_type, _, seq, _ = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size:
            return
        yield msg_type, seq, data[offset + _NLMSGHDR.size : offset + length]
        offset += _align(length)


def _packet_id(buf: bytearray, offset: int, end: int) -> int | None:
    while offset + _NLA.size <= end:
        length, kind = _NLA.unpack_from(buf, offset)
        if length < _NLA.size:
            return None
        if kind & 0x3FFF == NFQA_PACKET_HDR:
            return int(_PACKET_ID.unpack_from(buf, offset + _NLA.size)[0])
        offset += _align(length)
    return None
