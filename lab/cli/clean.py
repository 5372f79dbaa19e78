"""`icelab clean`: remove everything the lab left running."""

from __future__ import annotations

import importlib

import typer

from lab import naming
from lab.cli import app

# Modules that own other lab resources (e.g. Docker containers) may expose
# `clean(scope: str | None) -> str` (a one-line summary); they run before the namespaces go.
EXTRA_CLEANERS = ("lab.runtime.cleanup", "lab.runtime.docker.cleanup", "lab.sfu.cleanup")


@app.command("clean")
def clean() -> None:
    """Kill every process in lab namespaces, delete the namespaces and the lab's state (idempotent).

    With ICELAB_SCOPE set, only that scope; unset, every scope.
    """
    from lab.net.cleanup import clean as clean_lab

    scope = naming.scope() or None
    for name in EXTRA_CLEANERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        summary = module.clean(scope)
        if summary:
            typer.echo(summary)
    report = clean_lab(scope)
    typer.echo(f"removed {len(report.namespaces)} namespaces, killed {report.processes} processes")
