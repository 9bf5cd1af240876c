"""``dlab data``: look at a dataset before training on it, and import Keras downloads for offline runs.

Each command parses its arguments and makes one call into :mod:`dlab.api`.
"""

from __future__ import annotations

import json

import typer

from dlab import api
from dlab.cli.app import CONFIG_HELP, SET_HELP, app, call_api, debug_option

data_app = typer.Typer(
    name="data",
    help="Look at datasets before training on them; copy Keras downloads into the Keras cache.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(data_app, name="data")


@data_app.command("info")
def info_command(
    config: str = typer.Argument(
        ...,
        metavar="NAME|CONFIG|PATH",
        help=f"{CONFIG_HELP} Or a dataset file or folder: which on-disk layout dlab recognizes in it.",
    ),
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

    Given a dataset file or folder instead, which layout dlab recognizes in it (a Keras cache
    file and whether its hash is Keras's, a CIFAR-10 batches folder, an aclImdb tree ...) and
    how dlab reads, orders and splits it.

    Examples:

      dlab data info cnn-cifar10 --smoke --plot cifar.png

      dlab data info mlp-imdb --set data.source=dir --set data.path=~/data/aclImdb

      dlab data info ~/.keras/datasets/reuters.npz
    """
    if api.is_dataset_path(config):
        layout = call_api(api.data_layout, config, show_traceback=debug)
        width = max(len(key) for key in layout)
        for key, value in layout.items():
            typer.echo(f"{key.ljust(width)}  {value}")
        return

    report = call_api(
        api.data_info, config, sets=sets, smoke=smoke, plot=plot, debug=debug, show_traceback=debug
    )
    typer.echo(json.dumps(report, indent=2) if as_json else api.render_data_info(report), nl=not not as_json)
    if plot and not as_json:
        typer.echo(f"figure: {report['plot']}")


@data_app.command("import")
def import_command(
    name: str = typer.Argument(..., metavar="NAME", help="The dataset, e.g. reuters, cifar10."),
    path: str = typer.Argument(
        ...,
        metavar="PATH",
        help="The file Keras downloads (fashion_mnist: the folder of the four .gz files).",
    ),
    cache_dir: str | None = typer.Option(
        None,
        "--cache-dir",
        metavar="DIR",
        help="The Keras datasets cache (default: $KERAS_HOME/datasets or ~/.keras/datasets).",
    ),
    debug: bool = debug_option("Show tracebacks."),
) -> None:
    """Check a Keras download with the hash Keras checks, then copy it into the Keras cache.

    `data.source: keras` then runs offline. A wrong file is refused (exit 2) with the
    expected and the actual hash; nothing is copied.

    Examples:

      dlab data import reuters ~/Downloads/reuters.npz

      dlab data import cifar10 ~/Downloads/cifar-10-python.tar.gz
    """
    for done in call_api(api.data_import, name, path, cache_dir=cache_dir, show_traceback=debug):
        verb = "copied" if done.copied else "already in the cache"
        typer.echo(f"{done.source} -> {done.destination}: {verb} ({done.check})")
    typer.echo(f"data.source=keras now finds {name} without downloading.")
