"""Many runs: ``dlab sweep`` (configs, studies, grids, seeds) and ``dlab tune`` (keras-tuner)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from dlab import api
from dlab.cli.app import app, call_api, call_training, print_run_summary
from dlab.cli.options import SWEEP, TUNE, takes
from dlab.cli.sweep_console import ConsoleProgress


@app.command("sweep")
@takes(*SWEEP)
def sweep_command(options: dict[str, Any]) -> None:
    """Run many configs, several at a time; write summary.csv/json (and study figures).

    Every run is checked before the first one starts. Exit code 0 when all runs
    completed, 1 when any failed (each failure is recorded with its error and log),
    2 for bad input. The `dlab run` flags given here go to every run.

    Examples:

      dlab sweep playground-architectures --jobs 2

      dlab sweep '*' --smoke --jobs 2

      dlab sweep playground-mlp --grid model.hidden=[2],[3] --seeds 5

      dlab sweep mnist-capacity --executor ray --address auto --gpus-per-run 1
    """
    request = api.SweepRequest.from_options(**options)
    progress = ConsoleProgress(sys.stdout, quiet=request.run.reporting.quiet)
    result = call_api(api.sweep, request, progress=progress, show_traceback=request.run.debug)
    raise typer.Exit(result.exit_code)


@app.command("tune")
@takes(*TUNE)
def tune_command(options: dict[str, Any]) -> None:
    """Search hyperparameters with keras-tuner; write trials.csv and best-config.yaml.

    Examples:

      dlab tune tune-mnist-mlp

      dlab tune tune-mnist-cnn --smoke

      dlab tune --resume outputs/tune-mnist-mlp/20261122-120000-ab12cd --max-trials 10

      dlab run outputs/tune-mnist-mlp/20261122-120000-ab12cd/best-config.yaml

      dlab tune tune-mnist-mlp --chief --port 8000          (then, on each worker machine:)

      dlab tune tune-mnist-mlp --worker 1 --chief-address chief-host:8000

      dlab tune tune-mnist-mlp --executor ray --workers 4 --address auto
    """
    search = api.SearchRequest.from_options(**options)
    result = call_training("search", api.tune, search, show_traceback=search.run.debug)
    if search.distribution.worker is not None:  # a worker writes no run directory: it says what it ran
        ran = len(result.trials)
        typer.echo(f"worker {result.worker}: {ran} trial(s) for {result.chief} in {result.seconds} s")
        raise typer.Exit(result.exit_code)
    best = (result.metrics.get("tuner") or {}).get("best") or {}
    if best:
        typer.echo(
            f"best trial: #{best['trial']}  {result.metrics['tuner']['objective']} "
            f"{best['score']:.4f}  {best['hyperparameters']}"
        )
        typer.echo(f"best config: {best['config']}  (dlab run FILE trains it)")
    print_run_summary(result)
