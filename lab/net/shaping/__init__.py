"""Link shaping: delay, jitter, loss and rate limit on the egress of one lab interface.

netem does it where the kernel has it; elsewhere (this project's CI) a userspace shaper process
fed by the iptables NFQUEUE target delays packets, nft drops them, and tbf limits the rate.
Both directions of a link are shaped by applying a LinkShaping at each of its two ends.

    from lab.net.shaping import LinkShaping, apply_shaping, clear_shaping, delay_backend

The names load lazily, so the shaper process (lab.net.shaping.shaper) starts without pyroute2
or pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.net.shaping.apply import apply_shaping, clear_shaping, current_shaping
    from lab.net.shaping.backend import DelayBackend, delay_backend, missing_nfqueue_tools
    from lab.net.shaping.spec import LinkShaping

_WHERE = {
    "apply_shaping": "lab.net.shaping.apply",
    "clear_shaping": "lab.net.shaping.apply",
    "current_shaping": "lab.net.shaping.apply",
    "DelayBackend": "lab.net.shaping.backend",
    "delay_backend": "lab.net.shaping.backend",
    "missing_nfqueue_tools": "lab.net.shaping.backend",
    "LinkShaping": "lab.net.shaping.spec",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
