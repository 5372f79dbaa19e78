"""`icelab worker` and `icelab cluster certs|scheduler`: trials across lab hosts (lab.cluster)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from lab.cli import app
from lab.errors import ConfigError

cluster_app = typer.Typer(help="Run trials across lab hosts on Dask distributed (TLS with mutual certificates).",
                          no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")

CertsOption = Annotated[Path | None, typer.Option("--certs", help="folder made by `icelab cluster certs` "
                                                   "(ca.pem and this role's certificate and key)")]


@cluster_app.command("certs")
def certs_command(directory: Annotated[Path, typer.Argument(help="an empty or new folder")]) -> None:
    """A CA, and the scheduler's, workers' and client's certificates and keys."""
    from lab.cluster.certs import make_certs

    for path in make_certs(directory):
        typer.echo(path)
    typer.echo("each host needs ca.pem and its role's <role>.pem + <role>-key.pem; keep ca-key.pem offline")


@cluster_app.command("scheduler")
def scheduler_command(
    certs: CertsOption = None,
    port: Annotated[int, typer.Option(help="port to listen on")] = 8786,
    host: Annotated[str, typer.Option(help="address to listen on")] = "0.0.0.0",
    insecure: Annotated[bool, typer.Option("--insecure", help="plain tcp on a loopback --host (tests)")] = False,
) -> None:
    """The cluster's scheduler (TLS, mutual certificates; Ctrl-C stops it)."""
    import asyncio

    from distributed import Scheduler

    from lab.cluster import certs as certificates
    from lab.cluster.address import check_address

    if certs is None and not insecure:
        raise ConfigError(None, "--certs", "the scheduler needs --certs DIR (`icelab cluster certs DIR`)")
    address = f"{'tcp' if certs is None else 'tls'}://{host}:{port}"
    if certs is None:
        check_address(address, insecure=insecure, option="--host")
    security = certificates.security(certs, "scheduler") if certs is not None else None

    async def serve() -> None:
        async with Scheduler(host=host, port=port, protocol="tls" if security else "tcp", security=security,
                             dashboard=False) as scheduler:
            typer.echo(f"scheduler at {scheduler.address}", err=True)
            await scheduler.finished()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


@app.command("worker")
def worker_command(
    address: Annotated[str, typer.Argument(help="the scheduler: tls://HOST:8786")],
    slots: Annotated[int, typer.Option("--slots", help="trials run at once on this host")] = 1,
    certs: CertsOption = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="allow plain tcp:// to a loopback scheduler")] = False,
) -> None:
    """A worker on this lab host: checks it can run trials (doctor), then takes up to --slots at once."""
    from lab.cluster.address import check_address
    from lab.cluster.task import worker_scope
    from lab.cluster.worker import host_findings, refusal, run_worker, worker_name

    if slots < 1:
        raise ConfigError(None, "--slots", "must be at least 1")
    check_address(address, insecure=insecure, option="ADDRESS")
    if address.startswith("tls://") and certs is None:
        raise ConfigError(None, "--certs", f"{address} is TLS: pass --certs DIR (ca.pem, worker.pem, worker-key.pem)")
    why = refusal(host_findings())
    if why:
        typer.echo(f"icelab worker: refused: {why} (see `icelab doctor`)", err=True)
        raise typer.Exit(2)
    import os

    typer.echo(f"icelab worker {worker_name()}: {slots} slot(s); lab scope "
               f"{worker_scope(os.environ.get('ICELAB_SCOPE', ''), worker_name())} "
               "(after a crash: ICELAB_SCOPE=<that scope> icelab clean)", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        run_worker(address, slots, certs, insecure)
