"""``dlab init``: start a project of your own (configs, a model function, data, dlab.toml);
``dlab schema``: the config files' JSON Schema, for editors."""

from __future__ import annotations

import json

import typer

from dlab import api
from dlab.cli.app import app, call_api


@app.command("init")
def init_command(
    folder: str = typer.Argument(..., metavar="DIR", help="A new or empty folder for the project."),
) -> None:
    """Make a project of your own: configs, a model function, a CSV, dlab.toml and a README.

    It holds configs/ (with the config schema for your editor), models.py with a model function,
    data/houses.csv, dlab.toml and a README. Nothing that exists is overwritten.

    Examples:

      dlab init my-labs && cd my-labs && dlab run houses-band --smoke
    """
    written = call_api(api.init_project, folder)
    for path in written:
        typer.echo(f"  wrote {path}")
    typer.echo(f"dlab: project ready. Next: cd {folder} && dlab run houses-band --smoke")


@app.command("schema")
def schema_command(
    output: str | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write it here instead of printing it."
    ),
) -> None:
    """Print the JSON Schema of config files, for your editor to check configs as you type.

    Keys complete, each shows its description, and typos and wrong types are underlined
    before `dlab run` refuses them.

    A config names it in its first line (packaged configs and `dlab init` projects do):

      # yaml-language-server: $schema=dlab-config.schema.json

    Examples:

      dlab schema -o configs/dlab-config.schema.json   (refresh a project's copy, e.g. after
      adding an experiment or upgrading dlab)
    """
    if output is None:
        typer.echo(json.dumps(call_api(api.config_schema), indent=2))
    else:
        typer.echo(f"schema: {call_api(api.write_config_schema, output)}")
