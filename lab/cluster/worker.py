"""`icelab worker`: a Dask worker on a lab host, started only if this host can run trials."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from lab.cluster import certs
from lab.cluster.address import check_address
from lab.cluster.engine import RESOURCE
from lab.cluster.task import worker_scope


@dataclass
class Finding:
    name: str
    ok: bool
    detail: str


def host_findings() -> list[Finding]:
    """What a trial needs on this host: the doctor's required checks, and coturn (every
    experiment's relays and STUN)."""
    from lab.net.doctor import kernel_checks, tool_checks

    checks = kernel_checks() + tool_checks()
    found = [Finding(c.name, c.ok, c.detail) for c in checks if c.required]
    found.append(Finding("tool turnserver", shutil.which("turnserver") is not None, "coturn relay (scripts/setup-debian.sh)"))
    return found


def refusal(findings: list[Finding]) -> str | None:
    broken = [f"{f.name} ({f.detail})" if f.detail else f.name for f in findings if not f.ok]
    return f"this host cannot run trials: {', '.join(broken)}" if broken else None


def worker_name() -> str:
    return f"{socket.gethostname().split('.')[0]}-{os.getpid()}"


async def serve(address: str, slots: int, certs_dir: Path | None, insecure: bool) -> None:
    from distributed import Worker

    check_address(address, insecure=insecure, option="ADDRESS")
    security = certs.security(certs_dir, "worker") if certs_dir is not None else None
    tls = address.startswith("tls://")
    async with Worker(address, nthreads=slots, resources={RESOURCE: slots}, security=security,
                      name=worker_name(), protocol="tls" if tls else "tcp", host=None if tls else "127.0.0.1",
                      dashboard=False) as worker:
        await worker.finished()


def run_worker(address: str, slots: int, certs_dir: Path | None, insecure: bool) -> str:
    """Blocks until the worker stops; returns the scope its trials ran in."""
    name = worker_name()
    scope = worker_scope(os.environ.get("ICELAB_SCOPE", ""), name)
    asyncio.run(serve(address, slots, certs_dir, insecure))
    return scope
