from __future__ import annotations

import typer

from lab import __version__
from lab.cli import app


@app.command()
def version() -> None:
    """Print the icelab version."""
    typer.echo(__version__)
