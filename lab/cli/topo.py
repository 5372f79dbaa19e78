"""`icelab topo up|down|show|exec|list`: lab networks from topology files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lab.cli import app

topo_app = typer.Typer(help="Build, inspect and remove lab networks.", no_args_is_help=True)
app.add_typer(topo_app, name="topo")


@topo_app.command("up")
def up(
    file: Annotated[Path, typer.Argument(help="topology file (TOML)")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="topology name (default: file stem)")] = None,
) -> None:
    """Build the topology as network namespaces; it stays up until `icelab topo down`."""
    import time

    from lab.net import Network, load_topology

    topo = load_topology(file)
    started = time.perf_counter()
    net = Network.up(topo, name=name)
    elapsed = (time.perf_counter() - started) * 1000
    net.close()
    typer.echo(f"{net.name}: up in {elapsed:.0f} ms, hosts: {', '.join(net.hosts())}")


@topo_app.command("down")
def down(name: Annotated[str, typer.Argument(help="topology name")]) -> None:
    """Kill the topology's processes and remove its namespaces."""
    from lab.net import Network

    Network.attach(name).down()
    typer.echo(f"{name}: down")


@topo_app.command("show")
def show(name: Annotated[str, typer.Argument(help="topology name")]) -> None:
    """Print hosts, interfaces and addresses as JSON."""
    from lab.net import Network

    typer.echo(Network.attach(name).describe_json())


@topo_app.command("list")
def list_topologies() -> None:
    """Names of the topologies that are up (in this ICELAB_SCOPE)."""
    from lab.net import list_up

    for name in list_up():
        typer.echo(name)


@topo_app.command(
    "exec",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def exec_in(
    name: Annotated[str, typer.Argument(help="topology name")],
    host: Annotated[str, typer.Argument(help="node to run in")],
    command: Annotated[list[str], typer.Argument(help="command and arguments (after --)")],
) -> None:
    """Run a command inside a node's namespace; exits with the command's exit code."""
    from lab.errors import LabError
    from lab.net import Network

    net = Network.attach(name)
    try:
        process = net.popen(host, command)
    except FileNotFoundError:
        raise LabError(f"command not found: {command[0]}") from None
    try:
        code = process.wait()
    except KeyboardInterrupt:
        process.terminate()
        code = process.wait()
    sys.stdout.flush()
    raise typer.Exit(code if code >= 0 else 128 - code)


