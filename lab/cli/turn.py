"""`icelab turn start|stop|credential|ca`: coturn relays on a running topology."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lab.cli import app

turn_app = typer.Typer(help="Run coturn relays on a lab topology and issue credentials.",
                       no_args_is_help=True)
app.add_typer(turn_app, name="turn")


@turn_app.command("start")
def start(
    name: Annotated[str, typer.Argument(help="name of a topology that is up")],
    spec: Annotated[Path | None, typer.Option("--spec", help="relay file ([[relays]] TOML); "
                                              "default: one relay per host with role relay")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for the relay logs")] = Path("runs/relays"),
) -> None:
    """Start the relays; they run until `icelab turn stop`, `icelab topo down` or `icelab clean`.

    Prints one JSON line per relay: its addresses, log file and an iceServers entry per transport.
    """
    from lab.net import Network
    from lab.turn.spec import load_relay_file
    from lab.turn.topology import start_relays

    net = Network.attach(name)
    specs = None
    if spec is not None:
        specs = [relay.model_dump() for relay in load_relay_file(spec).relays]
    relays = start_relays(net, out, specs, file=spec)
    for relay in relays:
        typer.echo(json.dumps({
            "relay": relay.spec.name, "host": relay.spec.host, "pid": relay.pid,
            "address": str(relay.spec.address),
            "alt_address": str(relay.spec.alt_address) if relay.spec.alt_address else None,
            "log": str(relay.files.log),
            "ice_servers": {t: relay.ice_server(t) for t in relay.spec.listeners},
        }))
    net.close()


@turn_app.command("stop")
def stop(name: Annotated[str, typer.Argument(help="name of a topology that is up")]) -> None:
    """Stop (SIGTERM, then SIGKILL) every turnserver in the topology's namespaces."""
    import os
    import signal
    import time

    from lab.net import Network
    from lab.turn.netns import turnserver_pids

    namespaces = Network.attach(name).plan.namespaces()
    pids = turnserver_pids(namespaces)
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while turnserver_pids(namespaces) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in turnserver_pids(namespaces):
        os.kill(pid, signal.SIGKILL)
    typer.echo(f"{name}: stopped {len(pids)} relay(s)")


@turn_app.command("credential")
def credential(
    secret: Annotated[str, typer.Option("--secret", help="the relay's auth_secret")],
    user: Annotated[str, typer.Option("--user")] = "peer",
    ttl: Annotated[float, typer.Option("--ttl", help="seconds until it expires")] = 3600.0,
) -> None:
    """Issue a TURN REST API ephemeral credential (username "expiry:user", HMAC-SHA1 password)."""
    from lab.turn import ephemeral_credential

    cred = ephemeral_credential(secret, user, ttl)
    typer.echo(json.dumps({"username": cred.username, "credential": cred.password,
                           "expires_at": cred.expires_at}))


@turn_app.command("ca")
def ca() -> None:
    """Print the lab CA file peers must trust for turns: (export SSL_CERT_FILE=...)."""
    from lab.turn import lab_ca_file

    typer.echo(str(lab_ca_file()))
