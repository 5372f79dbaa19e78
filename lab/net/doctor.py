"""What this machine can run: kernel features, tools, Docker (for `icelab doctor`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from lab import naming
from lab.net import links, nat, netns, nft


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    required: bool = True


TOOLS = {
    "nft": "nftables (NAT, filtering)",
    "conntrack": "flush NAT bindings",
    "turnserver": "coturn relay",
    "turnutils_natdiscovery": "RFC 5780 NAT probe",
    "tcpdump": "packet captures",
    "tc": "rate limiting (iproute2)",
    "ip": "inspection (iproute2)",
}


def _probe(what: str, fn: Callable[[], str | None]) -> Check:
    try:
        detail = fn() or ""
        return Check(what, True, detail)
    except Exception as error:  # noqa: BLE001 - every failure is a finding here
        return Check(what, False, str(error).splitlines()[0] if str(error) else type(error).__name__)


def kernel_checks() -> list[Check]:
    checks = [Check("root", os.geteuid() == 0, "needed for namespaces and nftables")]
    if os.geteuid() != 0:
        return checks
    probe = naming.netns_name("doctor", str(os.getpid()))
    sockets = links.Sockets()
    created = _probe("network namespaces", lambda: netns.create(probe))
    checks.append(created)
    if not created.ok:
        return checks
    try:
        def veth() -> None:
            ipr = sockets[probe]
            ipr.link("add", ifname="d0", kind="veth", peer="d1")
            ipr.link("add", ifname="dbr", kind="bridge")

        checks.append(_probe("veth + bridge", veth))

        def nft_nat() -> None:
            nft.run(probe, nat.ruleset("full-cone", "192.0.2.1", 30, True, wan="d0", lan="d1"))

        checks.append(_probe("nftables NAT + dynamic maps", nft_nat))

        def conntrack() -> None:
            links.write_sysctls(probe, nat.conntrack_sysctls(30))

        checks.append(_probe("conntrack (per-namespace UDP timeouts)", conntrack))
    finally:
        sockets.close()
        netns.remove(probe)
    checks.append(_delay_backend())
    return checks


def _delay_backend() -> Check:
    try:
        from lab.net.shaping import delay_backend
        from lab.net.shaping.backend import netem_available
    except ImportError:
        return Check("netem", False, "lab.net.shaping missing: no delay backend", required=False)
    try:
        netem = netem_available()
        backend = delay_backend()
    except Exception as error:  # noqa: BLE001
        return Check("delay backend", False, str(error), required=False)
    return Check("netem", netem, f"delay backend: {backend}", required=False)


def tool_checks() -> list[Check]:
    return [
        Check(f"tool {tool}", shutil.which(tool) is not None, purpose, required=tool in ("nft", "conntrack"))
        for tool, purpose in TOOLS.items()
    ]


def docker_checks() -> list[Check]:
    binary = shutil.which("docker")
    if binary is None:
        return [Check("docker", False, "not installed (optional runtime)", required=False)]
    try:
        out = subprocess.run([binary, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=10)
        running = out.returncode == 0
        detail = f"engine {out.stdout.strip()} running" if running else "installed, engine not running"
    except subprocess.TimeoutExpired:
        running, detail = False, "installed, engine not answering"
    return [Check("docker", running, detail, required=False)]


def run_all() -> list[Check]:
    return kernel_checks() + tool_checks() + docker_checks()
