"""Start a real `icelab run` in a scope of its own, wait until it is under way, signal it, and
look for anything of its scope left behind (namespaces, or any process carrying its scope)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lab import naming

ROOT = Path(__file__).resolve().parents[2]
ICELAB = [sys.executable, "-m", "lab"]
BOUND_S = 60  # generous: how long a signalled run may take to end (not a timing assertion)
START_BOUND_S = 300


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    scope: str
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")

    def wait_for(self, what: str, ready: object, bound: float = START_BOUND_S) -> None:
        deadline = time.monotonic() + bound
        while not ready():  # type: ignore[operator]
            assert self.process.poll() is None, f"the run ended before {what}: {self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"no {what} within {bound} s: {self.log()[-3000:]}"
            time.sleep(0.2)

    def signal(self, signum: int, *, group: bool = False) -> int:
        """Signal the run (group: its whole process group, as a terminal's Ctrl-C does); its exit code."""
        if group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"still running {BOUND_S} s after {signal.Signals(signum).name}: "
                                 f"{self.log()[-3000:]}") from None


def start(tmp: Path, name: str, *args: str) -> Run:
    """`icelab run ARGS` in the scope "<test scope>-k<name>" (a scoped clean of the tests' scope
    finds it too)."""
    scope = naming.nested_scope(naming.scope(), name)
    stderr = tmp / f"{name}.stderr"
    with stderr.open("wb") as err:
        process = subprocess.Popen([*ICELAB, "run", *args], stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT,
                                   env={**os.environ, "ICELAB_SCOPE": scope}, start_new_session=True)
    return Run(process, scope, stderr)


def run(scope: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ICELAB, "run", *args], capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env={**os.environ, "ICELAB_SCOPE": scope})


def namespaces(scope: str) -> list[str]:
    """The lab namespaces of `scope` and the scopes nested in it (cluster workers)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if n.startswith(naming.netns_prefix(scope)) or
            n.startswith(f"{naming.PREFIX}-{scope}{naming.NESTED_SCOPE_SEP}")]


def trial_namespaces(scope: str) -> list[str]:
    """Those of a trial under way (topology x<pid>_<slot>, lab.experiment.runner), not of a probe."""
    return [n for n in namespaces(scope) if re.search(r"-x\d+_\d+-", n)]


def processes(scope: str) -> list[str]:
    """Every process whose environment carries the scope (or one nested in it): whatever the run
    started (agents, relays, Janus, browsers, shapers, cluster workers) inherits it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        for var in env:
            if var.startswith(b"ICELAB_SCOPE=") and naming.in_scope(var[13:].decode(errors="replace"), scope):
                found.append(f"{entry.name}: {cmdline[:200]}")
                break
    return found


def lingering(scope: str, bound_s: float = 15.0) -> list[str]:
    """The scope's processes still there once the ones on their way out had `bound_s` to go
    (multiprocessing's resource tracker outlives its parent until it reads the closed pipe)."""
    deadline = time.monotonic() + bound_s
    while (left := processes(scope)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def saved(out: Path) -> dict[str, float]:
    """The run folder's saved trials: id -> when its result was written."""
    return {p.parent.name: p.stat().st_mtime for p in (out / "trials").glob("*/result.json")}
