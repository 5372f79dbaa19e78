"""The `icelab clean` hook (lab.cli.clean.EXTRA_CLEANERS): kill -9 every Janus left in the
scope's lab namespaces (the namespaces' own clean-up would too; this one says how many)."""

from __future__ import annotations

import os
import signal

from lab import naming


def clean(scope: str | None) -> str:
    from lab.net import netns
    from lab.sfu.janus import janus_pids

    names = [n for n in netns.list_names() if naming.is_lab_netns(n, "" if scope is None else scope)]
    pids = janus_pids(names)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    return f"killed {len(pids)} Janus processes" if pids else ""
