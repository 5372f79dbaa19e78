"""The names every lab-made resource carries, so `icelab clean` can find them after a crash.

One place decides them: network namespaces, nftables tables, Docker labels, state folders.
A scope (env ICELAB_SCOPE) nests all names one level deeper, so that concurrent test runs
never see each other's resources; `icelab clean` without a scope removes every scope's.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PREFIX = "icelab"
# nftables tables created by the lab (inside lab namespaces): "icelab_<what>".
NFT_TABLE_PREFIX = f"{PREFIX}_"
# Docker label set on every container and image the lab creates; its value is the scope.
DOCKER_LABEL = "org.icelab.managed"


# A scope started inside another one (a cluster worker's, lab.cluster) is "<scope>-k<key>", so
# that a scoped `icelab clean` of the outer scope also finds what the nested one left.
NESTED_SCOPE_SEP = "-k"


def scope() -> str:
    return os.environ.get("ICELAB_SCOPE", "")


def nested_scope(base: str, key: str) -> str:
    tag = "k" + key
    return f"{base}-{tag}" if base else tag


def in_scope(value: str, scope_name: str) -> bool:
    """Whether a resource labelled with scope `value` belongs to `scope_name` or a scope nested in it."""
    return value == scope_name or value.startswith(scope_name + NESTED_SCOPE_SEP)


def netns_prefix(scope_name: str | None = None) -> str:
    """Prefix of every lab namespace in a scope: "icelab-" or "icelab-<scope>-"."""
    s = scope() if scope_name is None else scope_name
    return f"{PREFIX}-{s}-" if s else f"{PREFIX}-"


def netns_name(topology: str, node: str) -> str:
    return f"{netns_prefix()}{topology}-{node}"


def is_lab_netns(name: str, scope_name: str | None = None) -> bool:
    return name.startswith(netns_prefix(scope_name))


def state_dir() -> Path:
    """Runtime state (one folder per topology that is up); survives the orchestrator's crash."""
    base = Path(os.environ.get("ICELAB_STATE_DIR", "/run/icelab"))
    return base / scope() if scope() else base


def browser_profiles_dir(browser: str) -> Path:
    """Where a browser kind's throwaway profiles live (icelab clean removes what is left)."""
    return state_dir() / browser


def new_browser_profile(browser: str, trial_id: str, role: str) -> Path:
    """A fresh, empty profile folder for one browser of one trial."""
    root = browser_profiles_dir(browser)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{trial_id}-{role}-{secrets.token_hex(3)}"
    path.mkdir()
    return path
