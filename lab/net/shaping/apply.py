"""apply_shaping / clear_shaping: the egress impairment of one interface in one lab namespace."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path

from pyroute2 import IPRoute

from lab.errors import LabError
from lab.net.shaping import loss_rules, queue_rules, shaper_process
from lab.net.shaping.backend import delay_backend, missing_nfqueue_tools
from lab.net.shaping.nsexec import netns_path, require_lab_name, require_netns
from lab.net.shaping.qdiscs import Qdiscs
from lab.net.shaping.spec import LinkShaping


def _state_path(netns: str, ifname: str) -> Path:
    return shaper_process.shaping_dir() / f"{netns}.{ifname}.json"


@contextlib.contextmanager
def _locked(netns: str, ifname: str) -> Iterator[None]:
    """Serialises changes to one interface across the lab's processes."""
    path = shaper_process.shaping_dir() / f"{netns}.{ifname}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _load_state(netns: str, ifname: str) -> dict[str, object] | None:
    try:
        return json.loads(_state_path(netns, ifname).read_text())  # type: ignore[no-any-return]
    except (FileNotFoundError, ValueError):
        return None


def current_shaping(netns: str, ifname: str) -> LinkShaping | None:
    """The shaping last applied to this interface (None when none is)."""
    state = _load_state(netns, ifname)
    return LinkShaping.model_validate(state["shaping"]) if state else None


def apply_shaping(netns: str, ifname: str, shaping: LinkShaping) -> None:
    """Shapes the EGRESS of ifname inside netns, replacing any earlier shaping there.

    Safe to call mid-call: parameter changes apply in place (packets already delayed keep their
    schedule). To shape both directions of a link, apply a LinkShaping at each of its two ends.
    """
    if not isinstance(shaping, LinkShaping):
        raise TypeError(f"apply_shaping expects a LinkShaping, got {type(shaping).__name__}")
    require_netns(netns)
    backend = delay_backend()
    if backend == "nfqueue" and (missing := missing_nfqueue_tools()):
        raise LabError(f"link shaping without netem needs: {', '.join(missing)} (make setup)")
    with _locked(netns, ifname):
        previous = _load_state(netns, ifname)
        with IPRoute(netns=netns) as ipr:
            qdiscs = Qdiscs(ipr, ifname, netns)
            if backend == "netem":
                qdiscs.set_netem(shaping)
            else:
                _apply_userspace(netns, ifname, qdiscs, shaping, previous)
        _state_path(netns, ifname).write_text(
            json.dumps({"backend": backend, "shaping": shaping.model_dump()})
        )


def _apply_userspace(
    netns: str, ifname: str, qdiscs: Qdiscs, shaping: LinkShaping, previous: dict[str, object] | None
) -> None:
    """nfqueue backend: only what changed since the last apply is touched."""
    if not qdiscs.htb_is_ours():
        previous = None  # no tree of ours: any record is from an earlier life of this namespace
    before = LinkShaping.model_validate(previous["shaping"]) if previous else None
    if before is None or before.rate_kbit != shaping.rate_kbit:
        qdiscs.set_htb(shaping.rate_kbit)
    queue_num = qdiscs.index & 0xFFFF  # an ifindex is unique within its namespace, as queues are
    if before is None or shaping.loss_pct != before.loss_pct:
        loss_rules.set_loss(netns, ifname, shaping.loss_pct, qdiscs.bridge_port)
    pid = shaper_process.running_pid(netns, ifname)
    if shaping.delays:
        if pid is not None:
            shaper_process.reconfigure(netns, ifname, shaping.delay_ms, shaping.jitter_ms)
        else:
            # the queue is bound before any packet is steered to it
            shaper_process.start(netns, ifname, queue_num, shaping.delay_ms, shaping.jitter_ms)
            try:
                queue_rules.steer_to_queue(netns, ifname, queue_num, qdiscs.bridge_port)
            except BaseException:
                shaper_process.stop(netns, ifname)  # a shaper without its rules would look alive
                raise
    elif pid is not None or before is None or before.delays:
        queue_rules.unsteer(netns, ifname)
        shaper_process.stop(netns, ifname)


def clear_shaping(netns: str, ifname: str) -> None:
    """Removes every impairment of ifname's egress and stops its shaper. Idempotent."""
    require_lab_name(netns)
    with _locked(netns, ifname):
        previous = _load_state(netns, ifname)
        alive = netns_path(netns).exists()
        userspace = previous is None or previous.get("backend") == "nfqueue"
        if alive and userspace and not missing_nfqueue_tools():
            queue_rules.unsteer(netns, ifname)
        shaper_process.stop(netns, ifname)  # after unsteering, so it releases the last packets
        if alive:
            if userspace and not missing_nfqueue_tools():
                loss_rules.clear_loss(netns, ifname)
            with IPRoute(netns=netns) as ipr:
                if ipr.link_lookup(ifname=ifname):
                    Qdiscs(ipr, ifname, netns).remove_root()
        _state_path(netns, ifname).unlink(missing_ok=True)
