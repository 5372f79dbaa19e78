"""The names every lab-made resource carries, so `icelab clean` can find them after a crash.

One place decides them: network namespaces, nftables tables, Docker labels, state folders.
"""

from __future__ import annotations

import os
from pathlib import Path

PREFIX = "icelab"
# Network namespaces: "icelab-<topology>-<node>".
NETNS_PREFIX = f"{PREFIX}-"
# nftables tables created by the lab (inside lab namespaces): "icelab_<what>".
NFT_TABLE_PREFIX = f"{PREFIX}_"
# Docker label set on every container and image the lab creates.
DOCKER_LABEL = "org.icelab.managed"
# Runtime state (one folder per topology that is up); survives the orchestrator's crash.
STATE_DIR = Path(os.environ.get("ICELAB_STATE_DIR", "/run/icelab"))


def netns_name(topology: str, node: str) -> str:
    return f"{NETNS_PREFIX}{topology}-{node}"


def is_lab_netns(name: str) -> bool:
    return name.startswith(NETNS_PREFIX)
