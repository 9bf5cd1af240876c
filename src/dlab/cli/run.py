"""``dlab list``, ``dlab show`` and ``dlab run``: look at configs and train one."""

from __future__ import annotations

import shutil
from typing import Any

import typer

from dlab import api
from dlab.cli.app import app, call_api, call_training, print_run_summary
from dlab.cli.options import RUN, SHOW, takes


@app.command("list")
def list_command(
    family: str | None = typer.Option(
        None, "--family", metavar="NAME", help="Only this family (e.g. 'text', 'dense networks')."
    ),
    fmt: str = typer.Option("table", "--format", metavar="table|json|names", help="Output format."),
) -> None:
    """List the runnable configs by family: name, dataset and what each one shows."""
    width = shutil.get_terminal_size((100, 20)).columns
    typer.echo(call_api(api.experiments_listing, family=family, fmt=fmt, width=width), nl=False)


@app.command("show")
@takes(*SHOW)
def show_command(options: dict[str, Any]) -> None:
    """Print the resolved config (defaults, YAML, `extends` and overrides applied) as YAML."""
    request = api.RunRequest.from_options(**options)
    typer.echo(call_api(api.show_config, request, show_traceback=request.debug), nl=False)
    typer.echo(f"# {call_api(api.config_origin, request.config)}", err=True)


@app.command("run")
@takes(*RUN)
def run_command(options: dict[str, Any]) -> None:
    """Train and evaluate one config; write history, plots, metrics.json and the model.

    Examples:

      dlab run cnn-cifar10 --epochs 10

      dlab run cnn-cifar10 --smoke

      dlab run cnn-cifar10 --set data.source=file --set data.path=cifar10.npz

      dlab run outputs/cnn-cifar10/20261121-120000-ab12cd/config.yaml

      dlab run cnn-cifar10 --resume outputs/cnn-cifar10/20261121-120000-ab12cd
    """
    request = api.RunRequest.from_options(**options)
    print_run_summary(call_training("run", api.run, request, show_traceback=request.debug))
