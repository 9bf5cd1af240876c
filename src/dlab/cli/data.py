"""``dlab data``: what dlab recognizes in a dataset file, and importing Keras downloads offline.

Each command parses its arguments and makes one call into :mod:`dlab.api`.
"""

from __future__ import annotations

import typer

from dlab.cli.app import app, call_api, debug_option

data_app = typer.Typer(
    help="Dataset files: which layout dlab recognizes, and copying Keras downloads into the "
    "Keras cache for offline runs.",
    no_args_is_help=True,
)


@data_app.command("info")
def info_command(
    path: str = typer.Argument(..., metavar="PATH", help="A dataset file or folder."),
    debug: bool = debug_option("Show tracebacks."),
) -> None:
    """Show which on-disk layout PATH is and how dlab reads, orders and splits it.

    A Keras cache file (and whether its hash is Keras's), a CIFAR-10 batches folder, idx
    files, an aclImdb tree, a class-folder tree ...

    Examples:

      dlab data info ~/.keras/datasets/reuters.npz

      dlab data info ~/data/aclImdb
    """
    from dlab import api

    info = call_api(api.data_info, path, show_traceback=debug)
    width = max(len(key) for key in info)
    for key, value in info.items():
        typer.echo(f"{key.ljust(width)}  {value}")


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
    from dlab import api

    for done in call_api(api.data_import, name, path, cache_dir=cache_dir, show_traceback=debug):
        verb = "copied" if done.copied else "already in the cache"
        typer.echo(f"{done.source} -> {done.destination}: {verb} ({done.check})")
    typer.echo(f"data.source=keras now finds {name} without downloading.")


app.add_typer(data_app, name="data")
