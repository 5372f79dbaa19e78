"""Render a resolved RelaySpec into a coturn turnserver.conf from the template in turn/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from lab.errors import ConfigError
from lab.turn.spec import RelaySpec

_REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "turn" / "turnserver.conf.tmpl"


@dataclass(frozen=True)
class RelayFiles:
    """Where one relay keeps its files: state (config, pid, db, certs) and run output (log)."""

    config: Path
    log: Path
    pid: Path
    userdb: Path
    cert: Path | None
    key: Path | None


def template_text() -> str:
    return _REPO_TEMPLATE.read_text()


def render_config(spec: RelaySpec, files: RelayFiles) -> str:
    """The turnserver.conf text; `spec.address` and `spec.peer_networks` must be resolved."""
    if spec.address is None:
        raise ConfigError(None, f"relays.{spec.name}.address", "relay address not resolved")
    if not spec.peer_networks:
        raise ConfigError(None, f"relays.{spec.name}.peer_networks",
                          "no lab networks to relay to (hermetic relays need an allow list)")
    addresses = [spec.address] + ([spec.alt_address] if spec.alt_address else [])
    listeners = set(spec.listeners)
    switches = []
    if "udp" not in listeners:
        switches.append("no-udp")
    if "tcp" not in listeners:
        switches.append("no-tcp")
    if "tls" not in listeners:
        switches.append("no-tls")
    switches.append("no-dtls")

    if spec.auth_secret is not None:
        auth = ["use-auth-secret", f"static-auth-secret={spec.auth_secret}"]
    else:
        auth = ["lt-cred-mech"] + [f"user={u}:{p}" for u, p in spec.users.items()]

    lifetimes = []
    if spec.permission_lifetime is not None:
        lifetimes.append(f"permission-lifetime={spec.permission_lifetime}")
    if spec.channel_lifetime is not None:
        lifetimes.append(f"channel-lifetime={spec.channel_lifetime}")

    tls = []
    if "tls" in listeners:
        if files.cert is None or files.key is None:
            raise ConfigError(None, f"relays.{spec.name}.cert", "TLS listener without certificate")
        tls = [f"cert={files.cert}", f"pkey={files.key}"]

    extra = []
    for name, value in spec.options.items():
        if value is True:
            extra.append(name)
        elif value is not False:
            extra.append(f"{name}={value}")

    values = {
        "name": spec.name,
        "host": spec.host,
        "listening_ips": "\n".join(f"listening-ip={a}" for a in addresses),
        "port": spec.port,
        "tls_port": spec.tls_port,
        "listener_switches": "\n".join(switches),
        "rfc5780": "" if spec.alt_listening else "no-rfc5780",
        "relay_ips": "\n".join(f"relay-ip={a}" for a in addresses),
        "min_port": spec.min_port,
        "max_port": spec.max_port,
        "relay_threads": spec.relay_threads,
        "realm": spec.realm,
        "auth": "\n".join(auth),
        "max_allocate_lifetime": spec.max_allocate_lifetime,
        "lifetimes": "\n".join(lifetimes),
        "tls": "\n".join(tls),
        "allowed_peers": "\n".join(
            f"allowed-peer-ip={net.network_address}-{net.broadcast_address}"
            for net in spec.peer_networks),
        "log_file": files.log,
        "pid_file": files.pid,
        "userdb": files.userdb,
        "verbosity": "verbose" if spec.verbose else "",
        "extra": "\n".join(extra),
    }
    return Template(template_text()).substitute(values)
