"""Link shaping: delay, jitter, loss and rate limit on the egress of one lab interface.

    from lab.net.shaping import LinkShaping, apply_shaping, clear_shaping, delay_backend
    apply_shaping(netns, ifname, LinkShaping(delay_ms=25, jitter_ms=5, loss_pct=1, rate_kbit=2000))
    clear_shaping(netns, ifname)

apply_shaping shapes the EGRESS of one interface and replaces whatever shaping was there; it is
quick enough to call mid-call (a change of delay: ~10 ms, no restart). Both directions of a link
are shaped by applying a LinkShaping at each of its two ends. Bridge ports work too.

Two backends, chosen once per process by delay_backend() (ICELAB_DELAY_BACKEND forces one):
- netem (ordinary Linux hosts): netem at the root qdisc, under a tbf when rate-limited.
- nfqueue (kernels without netem, this project's CI): the xt NFQUEUE target (through nft_compat)
  steers the interface's egress to an `icelab-shaper` process inside the lab namespace, which
  holds each packet for delay ± jitter; loss is chosen in the kernel by nft and sunk in a
  blackhole qdisc (silent for the sender, as netem's loss is); the rate limit is an htb class.
  Lab-named nft tables: `icelab_delay` (ip, ip6) and `icelab_shaping` (inet, bridge). Needs only
  nft: no iptables, no libnetfilter_queue (the shaper speaks nfnetlink itself).

Semantics shared by both: jitter is uniform in [delay - jitter, delay + jitter] and reorders
packets, as netem does by default; loss is independent per packet; the rate limiter queues up
to 50 ms of traffic. Userspace-specific: at most 10 000 packets held per interface (more are
dropped); a killed shaper leaves its link dark (no bypass) until the next apply_shaping or
clear_shaping; the shaper exits by itself when its namespace is removed.

The names load lazily, so the shaper process starts without pyroute2 or pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.net.shaping.apply import apply_shaping, clear_shaping, current_shaping
    from lab.net.shaping.backend import DelayBackend, delay_backend, missing_nfqueue_tools
    from lab.net.shaping.spec import LinkShaping

__all__ = ["DelayBackend", "LinkShaping", "apply_shaping", "clear_shaping", "current_shaping", "delay_backend", "missing_nfqueue_tools"]

_WHERE = {
    "apply_shaping": "lab.net.shaping.apply",
    "clear_shaping": "lab.net.shaping.apply",
    "current_shaping": "lab.net.shaping.apply",
    "DelayBackend": "lab.net.shaping.backend",
    "delay_backend": "lab.net.shaping.backend",
    "missing_nfqueue_tools": "lab.net.shaping.backend",
    "LinkShaping": "lab.net.shaping.spec",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
