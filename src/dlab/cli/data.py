"""``dlab data ...``: look at a dataset before training on it (``dlab data info``).

A Typer sub-app of its own, so other data commands (``dlab data import``) join it.
"""

from __future__ import annotations

import json

import typer

from dlab.cli.app import CONFIG_HELP, SET_HELP, app, call_api, debug_option

data_app = typer.Typer(
    name="data", help="Look at datasets before training on them.", no_args_is_help=True, add_completion=False
)
app.add_typer(data_app, name="data")


@data_app.command("info")
def info_command(
    config: str = typer.Argument(..., metavar="NAME|CONFIG", help=CONFIG_HELP),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=SET_HELP),
    smoke: bool = typer.Option(False, "--smoke", help="The --smoke twin: synthetic data of the real shapes."),
    plot: str | None = typer.Option(
        None,
        "--plot",
        metavar="FILE.png",
        help="A figure: sample grid (images), lines (text) or class balance.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    debug: bool = debug_option(),
) -> None:
    """The dataset a config would load, without training: sizes, shapes, ranges, class balance.

    Examples:

      dlab data info cnn-cifar10 --smoke --plot cifar.png

      dlab data info mlp-imdb --set data.source=dir --set data.path=~/data/aclImdb
    """
    from dlab import api

    report = call_api(
        api.data_info, config, sets=sets, smoke=smoke, plot=plot, debug=debug, show_traceback=debug
    )
    typer.echo(json.dumps(report, indent=2) if as_json else api.render_data_info(report), nl=not not as_json)
    if plot and not as_json:
        typer.echo(f"figure: {report['plot']}")
