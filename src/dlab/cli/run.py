"""``dlab list``, ``dlab show`` and ``dlab run``: look at configs and train one."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

import typer

from dlab import api
from dlab.cli.app import app, call_api, call_training, print_run_summary
from dlab.cli.options import RUN, SHOW, Param, takes


@app.command("list")
def list_command(
    pattern: str | None = typer.Argument(
        None,
        metavar="PATTERN",
        help="Only configs whose name, dataset or family contains this (e.g. cifar, imdb, 'time "
        "series'; * and ? as in a shell).",
        show_default=False,
    ),
    family: str | None = typer.Option(
        None, "--family", metavar="NAME", help="Only this family (e.g. 'text', 'dense networks')."
    ),
    fmt: str = typer.Option("table", "--format", metavar="table|json|names", help="Output format."),
) -> None:
    """List the runnable configs by family: name, dataset and what each one shows.

    Families come in course order: fundamentals, dense networks, CNNs, text, sequences, tabular
    data, images, segmentation, tuning.

    Examples:

      dlab list cifar

      dlab list --family text --format names
    """
    width = shutil.get_terminal_size((100, 20)).columns
    listing = call_api(api.experiments_listing, family=family, fmt=fmt, width=width, pattern=pattern)
    typer.echo(listing, nl=False)


Explain = Annotated[
    bool,
    typer.Option(
        "--explain",
        help="Put each key's description (from the config schema) above it, and where its value "
        "came from when not from the config's own file; the output is still a config.",
    ),
]


@app.command("show")
@takes(*SHOW, Param("explain", Explain, False))
def show_command(options: dict[str, Any]) -> None:
    """Print the resolved config (defaults, YAML, `extends` and overrides applied) as YAML.

    Examples:

      dlab show cnn-cifar10 --explain

      dlab show cnn-cifar10 --set train.optimizer.name=sgd --smoke
    """
    explain = options.pop("explain")
    request = api.RunRequest.from_options(**options)
    text = call_api(api.explain_config if explain else api.show_config, request, show_traceback=request.debug)
    typer.echo(text, nl=False)
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
    result = call_training("run", api.run, request, show_traceback=request.debug)
    print_run_summary(result)
    if request.reporting.profile:
        typer.echo(api.render_stages(result.metrics.get("stages") or {}, api.since_process_start()))
