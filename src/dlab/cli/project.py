"""``dlab init``: start a project of your own (configs, a model function, data, dlab.toml)."""

from __future__ import annotations

import typer

from dlab import api
from dlab.cli.app import app, call_api


@app.command("init")
def init_command(
    folder: str = typer.Argument(..., metavar="DIR", help="A new or empty folder for the project."),
) -> None:
    """Make a project of your own: configs/, models.py with a model function, data/houses.csv,
    dlab.toml and a README. Nothing that exists is overwritten.

    Examples:

      dlab init my-labs && cd my-labs && dlab run houses-band --smoke
    """
    written = call_api(api.init_project, folder)
    for path in written:
        typer.echo(f"  wrote {path}")
    typer.echo(f"dlab: project ready. Next: cd {folder} && dlab run houses-band --smoke")
