"""`icelab report RUN_DIR...`: an HTML report (figures embedded) of one or several runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lab.cli import app
from lab.errors import ConfigError


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(metavar="RUN_DIR", help="run folder(s) made by `icelab run`")],
    out: Annotated[Path | None, typer.Option("--out", help="HTML file to write (default RUN_DIR/report.html "
                                             "for one run, ./report.html for several)")] = None,
    resamples: Annotated[int, typer.Option(help="bootstrap resamples per confidence interval")] = 2000,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
    split_by: Annotated[str | None, typer.Option("--split-by", help="also draw the gap ECDF split by this trials "
                                                 "column: host or worker (default: host, when several)")] = None,
) -> None:
    """Write report.html: recovery tables with 95 % CIs, policy comparison, figures (PNGs beside it)."""
    from lab.analysis.report import build_report

    for path in runs:
        if not path.is_dir():
            raise ConfigError(path, None, "no such run folder")
    if resamples < 100:
        raise ConfigError(None, "--resamples", "must be at least 100")
    if out is not None and out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(out, "--out", "the report is an HTML file: give a name ending in .html")
    if split_by is not None and split_by not in ("host", "worker", "kernel", "delay_backend"):
        raise ConfigError(None, "--split-by", f"{split_by!r}: one of host, worker, kernel, delay_backend")
    result = build_report(runs, out, n_resamples=resamples, seed=seed, split_by=split_by)
    typer.echo(f"{result.path} ({result.trials} trials, {len(result.figures)} figures beside it; "
               f"rendered in {result.seconds:.1f} s)")
