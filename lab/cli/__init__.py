"""The `icelab` command. Each command group lives in its own module and registers here."""

from __future__ import annotations

import sys

import typer

from lab.errors import LabError

app = typer.Typer(
    name="icelab",
    help="A network-impairment lab that measures how WebRTC calls recover through ICE restart.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """icelab: build lab networks, break them mid-call, time the recovery."""


def _register() -> None:
    # Imported for their side effect: each module adds its commands to `app`.
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def main() -> None:
    _register()
    try:
        app()
    except LabError as error:
        print(f"icelab: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
