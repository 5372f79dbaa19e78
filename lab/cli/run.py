"""`icelab run EXP`: run an experiment's trials into a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lab.cli import app
from lab.errors import ConfigError


@app.command()
def run(
    experiment: Annotated[Path, typer.Argument(help="experiment file (experiments/*.toml)")],
    runtime: Annotated[str, typer.Option(help="where the peers run: netns or docker")] = "netns",
    trials: Annotated[int | None, typer.Option("--trials", help="repetitions (overrides the file)")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="trials run in parallel")] = 1,
    out: Annotated[Path | None, typer.Option("--out", help="run folder (default runs/<name>-<time>)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue the run in --out, skipping completed trials")] = False,
    capture: Annotated[bool, typer.Option("--capture", help="capture packets on every host; one merged "
                                          "capture.pcapng per trial")] = False,
    cluster: Annotated[str | None, typer.Option("--cluster", help="run the trials on a Dask cluster: "
                                                "tls://HOST:8786, or local:N worker processes here")] = None,
    certs: Annotated[Path | None, typer.Option("--certs", help="with --cluster tls://: the folder of "
                                               "ca.pem, client.pem, client-key.pem")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="with --cluster tcp://: allowed on loopback only")] = False,
) -> None:
    """Run an experiment: every [peer pair x] policy x RTT x loss x repetition, one trial each."""
    from lab.experiment.check import check_experiment
    from lab.experiment.interrupt import RunInterrupted, StopOnSignals, interrupted_exit_code
    from lab.experiment.runfolder import default_run_path
    from lab.experiment.runner import run_experiment
    from lab.experiment.spec import load_experiment
    from lab.runtime import RUNTIMES, runtime_class

    # SIGTERM as Ctrl-C from the start: checks and probes (throwaway namespaces) end by their
    # `finally`; once trials run, run_experiment's own handling takes over (lab.experiment.interrupt)
    with StopOnSignals(stopping="stopping before any trial started"):
        try:
            if runtime not in RUNTIMES:
                raise ConfigError(None, "--runtime", f"unknown runtime {runtime!r} (one of {', '.join(RUNTIMES)})")
            runtime_class(runtime)  # fails now, cleanly, if it cannot run
            if trials is not None and trials < 1:
                raise ConfigError(None, "--trials", "must be at least 1")
            if resume and out is None:
                raise ConfigError(None, "--resume", "needs --out: the run folder to continue")
            executor = None
            if cluster is not None:
                from lab.cluster.engine import ClusterExecutor

                if jobs != 1:
                    raise ConfigError(None, "--jobs", "not with --cluster (each worker's --slots decides)")
                executor = ClusterExecutor(cluster, certs_dir=certs, insecure=insecure)
            spec = load_experiment(experiment)
            if capture:
                spec = spec.model_copy(update={"capture": spec.capture.model_copy(update={"hosts": ["*"], "filter": "udp or tcp"})})
            check_experiment(spec, runtime=runtime)  # topology and peer kinds (browsers installed), before anything is created
            path = out if out is not None else default_run_path(Path("runs"), spec)
            runtime_class(runtime).preflight()  # e.g. docker: engine up, images current
            summary = run_experiment(spec, path, runtime=runtime, jobs=jobs, repetitions=trials, resume=resume,
                                     executor=executor)
            typer.echo(f"{summary.path}: {summary.ran} trials run, {summary.skipped} resumed, "
                       f"{summary.recovered}/{summary.ran} recovered")
        except RunInterrupted as stopped:
            typer.echo(f"icelab: {stopped}; continue with: icelab run {experiment} --out {stopped.path} --resume",
                       err=True)
            raise typer.Exit(stopped.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("icelab: interrupted before any trial started", err=True)
            raise typer.Exit(interrupted_exit_code()) from None
