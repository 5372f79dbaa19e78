"""Egress qdiscs of a shaped interface, via pyroute2.

Shaping owns the interface's root qdisc; ours carry handle 1:. Parameter changes are made in
place, so packets queued in them survive a runtime change; only a change of layout rebuilds.

netem backend: netem at the root, or a tbf root (rate) with netem under it (10:).

nfqueue backend (no netem): an htb root, from the first apply on. Class 1:10 (the default) carries the traffic, rate
limited or not, into a byte fifo sized like tbf's queue; class 1:20 ends in a blackhole qdisc.
nft sends the "lost" packets there (meta priority 1:20, see loss_rules). A qdisc drop is silent,
as netem's is; a netfilter drop would fail the sender's sendto() with EPERM instead.
"""

from __future__ import annotations

import types
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.tcmsg import plugins as tc_plugins
from pyroute2.netlink.rtnl.tcmsg import sched_pfifo

from lab.errors import LabError
from lab.net.shaping.spec import LinkShaping

# pyroute2 knows neither kind; without an entry it would force them to the root.
tc_plugins.setdefault("bfifo", sched_pfifo)  # same options as pfifo: a limit (bytes here)
tc_plugins.setdefault("blackhole", types.SimpleNamespace(parent=0xFFFFFFFF))

TC_H_ROOT = 0xFFFFFFFF
ROOT_HANDLE = 0x10000  # 1:
TBF_CLASS = 0x10001  # 1:1, where tbf holds its child
NETEM_CHILD_HANDLE = 0x100000  # 10:
PASS_CLASS = 0x10010  # 1:10
PASS_FIFO = 0x100000  # 10:
LOSS_CLASS = 0x10020  # 1:20
LOSS_SINK = 0x200000  # 20:
# Rate limit: the queue holds this much time at the configured rate, the bucket at least two
# full-size frames (or 5 ms of traffic at high rates).
QUEUE_LATENCY_S = 0.05
MIN_BURST = 2 * 1514
UNLIMITED = "10gbit"
UNLIMITED_QUEUE_BYTES = 4 << 20
NETEM_LIMIT = 10_000


def _burst(rate_kbit: int) -> int:
    return max(MIN_BURST, rate_kbit * 1000 // 8 // 200)


def _queue_bytes(rate_kbit: int) -> int:
    return int(rate_kbit * 1000 / 8 * QUEUE_LATENCY_S) + _burst(rate_kbit)


def _tbf_args(rate_kbit: int) -> dict[str, Any]:
    return {"rate": f"{rate_kbit}kbit", "burst": _burst(rate_kbit), "latency": f"{QUEUE_LATENCY_S * 1000:g}ms"}


def _htb_class_args(rate_kbit: int | None) -> dict[str, Any]:
    if rate_kbit is None:
        return {"rate": UNLIMITED, "quantum": 1514}
    burst = _burst(rate_kbit)
    return {"rate": f"{rate_kbit}kbit", "burst": burst, "cburst": burst, "quantum": 1514}


def _netem_args(shaping: LinkShaping) -> dict[str, Any]:
    return {
        "delay": round(shaping.delay_ms * 1000),
        "jitter": round(shaping.jitter_ms * 1000),
        "loss": shaping.loss_pct,
        "limit": NETEM_LIMIT,
    }


class Qdiscs:
    """The qdisc tree of one interface in one namespace."""

    def __init__(self, ipr: IPRoute, ifname: str, netns: str) -> None:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            raise LabError(f"no interface {ifname!r} in namespace {netns}")
        self.ipr = ipr
        self.index: int = found[0]
        self.bridge_port = self._is_bridge_port()

    def _is_bridge_port(self) -> bool:
        master = self.ipr.get_links(self.index)[0].get("master")
        if not master:
            return False
        info = self.ipr.get_links(master)[0].get(("linkinfo", "kind"))
        return bool(info == "bridge")

    def _at(self, parent: int) -> tuple[str | None, int | None]:
        for q in self.ipr.get_qdiscs(index=self.index):
            if q["parent"] == parent:
                return q.get("kind"), q["handle"]
        return None, None

    def _put(self, kind: str, parent: int, handle: int, args: dict[str, Any]) -> None:
        current_kind, current_handle = self._at(parent)
        if (current_kind, current_handle) == (kind, handle):
            self.ipr.tc("replace", kind, self.index, parent=parent, handle=handle, **args)
            return
        if parent == TC_H_ROOT:
            self.remove_root(any_owner=True)
        self.ipr.tc("add", kind, self.index, parent=parent, handle=handle, **args)

    def remove_root(self, any_owner: bool = False) -> None:
        kind, handle = self._at(TC_H_ROOT)
        if kind is None or handle == 0 or (handle != ROOT_HANDLE and not any_owner):
            return  # the device's default qdisc, or someone else's
        try:
            self.ipr.tc("del", index=self.index, parent=TC_H_ROOT, handle=handle)
        except NetlinkError as exc:
            if exc.code not in (2, 22):  # already gone
                raise

    def htb_is_ours(self) -> bool:
        return self._at(TC_H_ROOT) == ("htb", ROOT_HANDLE)

    def set_htb(self, rate_kbit: int | None) -> None:
        """nfqueue backend: the htb tree, built at the first apply and kept until clear_shaping.

        Swapping a root qdisc drops the packets sent at that instant (the kernel passes through
        a noop qdisc), so a later change of rate or loss, mid-call, only changes this tree.
        """
        ours = self.htb_is_ours()
        queue = {"limit": UNLIMITED_QUEUE_BYTES if rate_kbit is None else _queue_bytes(rate_kbit)}
        if ours:
            self.ipr.tc("change-class", "htb", self.index, handle=PASS_CLASS, parent=ROOT_HANDLE,
                        **_htb_class_args(rate_kbit))
            self.ipr.tc("replace", "bfifo", self.index, handle=PASS_FIFO, parent=PASS_CLASS, **queue)
            return
        self.remove_root(any_owner=True)
        self.ipr.tc("add", "htb", self.index, handle=ROOT_HANDLE, default=PASS_CLASS & 0xFFFF)
        self.ipr.tc("add-class", "htb", self.index, handle=PASS_CLASS, parent=ROOT_HANDLE,
                    **_htb_class_args(rate_kbit))
        self.ipr.tc("add", "bfifo", self.index, handle=PASS_FIFO, parent=PASS_CLASS, **queue)
        self.ipr.tc("add-class", "htb", self.index, handle=LOSS_CLASS, parent=ROOT_HANDLE,
                    **_htb_class_args(None))
        self.ipr.tc("add", "blackhole", self.index, handle=LOSS_SINK, parent=LOSS_CLASS)

    def set_netem(self, shaping: LinkShaping) -> None:
        """netem backend: netem at the root, or under a tbf root when there is a rate limit.

        A netem root that is no longer needed is zeroed, not deleted: deleting it would drop the
        packets it is delaying. clear_shaping removes it.
        """
        if shaping.is_noop and self._at(TC_H_ROOT) != ("netem", ROOT_HANDLE):
            self.remove_root()
        elif shaping.rate_kbit is None:
            self._put("netem", TC_H_ROOT, ROOT_HANDLE, _netem_args(shaping))
        elif not shaping.delays and shaping.loss_pct == 0:
            if self._at(TBF_CLASS)[0] == "netem":
                # a tbf whose child is deleted drops everything: rebuild it with its own fifo
                self.remove_root()
            self._put("tbf", TC_H_ROOT, ROOT_HANDLE, _tbf_args(shaping.rate_kbit))
        else:
            self._put("tbf", TC_H_ROOT, ROOT_HANDLE, _tbf_args(shaping.rate_kbit))
            self._put("netem", TBF_CLASS, NETEM_CHILD_HANDLE, _netem_args(shaping))
