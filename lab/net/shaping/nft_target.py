"""Adds one nftables rule holding xtables expressions, over netlink: the NFQUEUE target, and
for a bridge port the physdev match in front of it.

The nft tool cannot write xtables targets, and nft's own `queue` statement is missing on some
kernels (this CI's among them); the kernel's nft_compat runs the xt NFQUEUE target from any
nftables chain, so the shaper's queue can live in the lab's own table, at the priority it needs.
The socket is opened inside the lab namespace (the calling thread enters it for a moment).
"""

from __future__ import annotations

import os
import socket
import struct

from lab.errors import LabError
from lab.net import netns as namespaces

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN = 0x10
NFNL_MSG_BATCH_END = 0x11
NFT_MSG_NEWRULE = 6
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800
NLA_F_NESTED = 0x8000
NFTA_RULE_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_EXPRESSIONS = 1, 2, 4
NFTA_LIST_ELEM = 1
NFTA_EXPR_NAME, NFTA_EXPR_DATA = 1, 2
NFTA_TARGET_NAME, NFTA_TARGET_REV, NFTA_TARGET_INFO = 1, 2, 3
NFTA_MATCH_NAME, NFTA_MATCH_REV, NFTA_MATCH_INFO = 1, 2, 3
IFNAMSIZ = 16
XT_PHYSDEV_OP_OUT = 0x02
FAMILIES = {"inet": 1, "ip": 2, "bridge": 7, "ip6": 10}


def _attr(kind: int, payload: bytes) -> bytes:
    body = struct.pack("=HH", 4 + len(payload), kind) + payload
    return body + b"\0" * (-len(body) % 4)


def _message(msg_type: int, flags: int, seq: int, family: int, res_id: int, payload: bytes) -> bytes:
    body = struct.pack("!BBH", family, 0, res_id) + payload
    return struct.pack("=IHHII", 16 + len(body), msg_type, flags, seq, 0) + body


def _expression(name: str, data: bytes) -> bytes:
    expr = _attr(NFTA_EXPR_NAME, name.encode() + b"\0") + _attr(NFTA_EXPR_DATA | NLA_F_NESTED, data)
    return _attr(NFTA_LIST_ELEM | NLA_F_NESTED, expr)


def _xt_align(info: bytes) -> bytes:
    return info + b"\0" * (-len(info) % 8)


def _physdev_out(ifname: str) -> bytes:
    # struct xt_physdev_info { char physindev[16], in_mask[16], physoutdev[16], out_mask[16];
    #                          __u8 invert, bitmask; }
    name = ifname.encode()
    info = (
        b"\0" * (2 * IFNAMSIZ)
        + name.ljust(IFNAMSIZ, b"\0")
        + (b"\xff" * (len(name) + 1)).ljust(IFNAMSIZ, b"\0")
        + struct.pack("=BB", 0, XT_PHYSDEV_OP_OUT)
    )
    return _expression("match", (
        _attr(NFTA_MATCH_NAME, b"physdev\0")
        + _attr(NFTA_MATCH_REV, struct.pack("!I", 0))
        + _attr(NFTA_MATCH_INFO, _xt_align(info))
    ))


def _nfqueue(queue_num: int) -> bytes:
    # struct xt_NFQ_info_v3 { __u16 queuenum; __u16 queues_total; __u16 flags; } (host order)
    return _expression("target", (
        _attr(NFTA_TARGET_NAME, b"NFQUEUE\0")
        + _attr(NFTA_TARGET_REV, struct.pack("!I", 3))
        + _attr(NFTA_TARGET_INFO, _xt_align(struct.pack("=HHH", queue_num, 1, 0)))
    ))


def _rule(table: str, chain: str, expressions: bytes) -> bytes:
    return (
        _attr(NFTA_RULE_TABLE, table.encode() + b"\0")
        + _attr(NFTA_RULE_CHAIN, chain.encode() + b"\0")
        + _attr(NFTA_RULE_EXPRESSIONS | NLA_F_NESTED, expressions)
    )


def add_nfqueue_rule(
    netns: str, family: str, table: str, chain: str, queue_num: int, physdev_out: str | None = None
) -> None:
    """Appends `[-m physdev --physdev-out PORT] -j NFQUEUE --queue-num N` to an existing chain."""
    expressions = (_physdev_out(physdev_out) if physdev_out else b"") + _nfqueue(queue_num)
    with namespaces.entered(netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    with sock:
        sock.bind((0, 0))
        sock.settimeout(5)
        sock.send(
            _message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 1, 0, NFNL_SUBSYS_NFTABLES, b"")
            + _message(
                (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE,
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND,
                2, FAMILIES[family], 0, _rule(table, chain, expressions),
            )
            + _message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 3, 0, NFNL_SUBSYS_NFTABLES, b"")
        )
        while True:
            data = sock.recv(65536)
            offset = 0
            while offset + 20 <= len(data):
                length, msg_type, _, seq, _ = struct.unpack_from("=IHHII", data, offset)
                if msg_type == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", data, offset + 16)[0]
                    if code:
                        raise LabError(
                            f"cannot add the NFQUEUE rule to {family} {table} {chain} in {netns}: "
                            f"{os.strerror(code)} (is nft_compat / xt_NFQUEUE in this kernel?)"
                        )
                    if seq == 2:
                        return
                offset += (length + 3) & ~3
