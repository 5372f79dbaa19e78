"""`icelab clean`: remove every namespace (and the processes inside) and state the lab left behind."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from lab import naming
from lab.net import build, netns


@dataclass
class CleanReport:
    namespaces: list[str] = field(default_factory=list)
    processes: int = 0


def clean(scope: str | None = None) -> CleanReport:
    """Kill every process inside the scope's lab namespaces, delete them and the scope's state.

    scope None: every scope (all "icelab-*" namespaces, the whole state dir).
    """
    names = [name for name in netns.list_names() if naming.is_lab_netns(name, "" if scope is None else scope)]
    report = CleanReport(namespaces=names)
    report.processes = sum(len(pids) for pids in netns.pids_in(names).values())
    build.teardown(names)
    base = naming.state_dir()
    if naming.scope():
        base = base.parent
    target = base / scope if scope else base
    shutil.rmtree(target, ignore_errors=True)
    if scope:  # the nested scopes of cluster workers started in this scope (lab.cluster.task)
        for nested in base.glob(f"{scope}{naming.NESTED_SCOPE_SEP}*"):
            shutil.rmtree(nested, ignore_errors=True)
    return report
