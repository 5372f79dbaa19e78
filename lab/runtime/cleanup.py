"""`icelab clean`'s part for browser peers: kill every Chromium and Firefox process the lab
started (by their ICELAB_BROWSER_PROFILE marker, wherever they run) before the namespaces go.

Their profile folders live in the lab state folder, which lab.net.cleanup removes next.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from lab import naming
from lab.runtime.chromium.browser import browser_pids


def clean(scope: str | None) -> str:
    base = Path(os.environ.get("ICELAB_STATE_DIR", "/run/icelab"))
    root = base / scope if scope else base
    prefixes = [str(root).rstrip("/") + "/"]  # .../w16/ never matches .../w160/
    if scope:  # and the scopes nested in it (cluster workers): .../w16-k<name>/
        prefixes.append(str(base / scope) + naming.NESTED_SCOPE_SEP)
    killed = 0
    for pid in sorted({pid for prefix in prefixes for pid in browser_pids(prefix)}):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    kinds = sorted(p.name for p in root.iterdir() if p.name in ("chromium", "firefox") and any(p.iterdir())) \
        if root.is_dir() else []
    if not killed and not kinds:
        return ""
    return f"killed {killed} browser processes; removing {', '.join(kinds) or 'no'} browser profiles"



