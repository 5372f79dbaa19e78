"""`icelab clean`, Docker part: remove the lab's containers (by label), if an engine runs."""

from __future__ import annotations

from lab.runtime.docker import engine
from lab.runtime.docker.containers import lab_containers, remove_containers


def remove_lab_containers(scope: str | None) -> int:
    """Remove every lab container of `scope` (None: of every scope); how many there were."""
    if not engine.available():
        return 0
    ids = lab_containers(scope)
    remove_containers(ids)
    return len(ids)


def clean(scope: str | None) -> str:
    """The `icelab clean` hook (lab.cli.clean.EXTRA_CLEANERS): a one-line summary, or ""."""
    removed = remove_lab_containers(scope)
    return f"removed {removed} Docker containers" if removed else ""
