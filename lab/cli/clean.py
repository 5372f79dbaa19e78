"""`icelab clean`: remove everything the lab left running."""

from __future__ import annotations

import typer

from lab import naming
from lab.cli import app


@app.command("clean")
def clean() -> None:
    """Kill every process in lab namespaces, delete the namespaces and the lab's state (idempotent).

    With ICELAB_SCOPE set, only that scope; unset, every scope.
    """
    from lab.net.cleanup import clean as clean_lab

    report = clean_lab(naming.scope() or None)
    typer.echo(f"removed {len(report.namespaces)} namespaces, killed {report.processes} processes")
