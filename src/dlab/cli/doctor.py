"""``dlab doctor``: the environment in one table; exit 1 when something dlab needs is broken."""

from __future__ import annotations

import typer

from dlab import api
from dlab.cli.app import app, call_api


@app.command("doctor")
def doctor_command() -> None:
    """Check the environment: Python, dlab's requirements, optional extras, TensorFlow, GPUs, cache.

    One table. Requirements and extras are read from dlab's installed metadata; a missing extra
    is reported with the command that installs it on this machine (a CPU build where there is no
    NVIDIA GPU), never as an error. Exit 1 when something dlab needs is missing or broken.
    """
    checks = call_api(api.doctor)
    width = max(len(check.item) for check in checks)
    typer.echo(f"{'CHECK'.ljust(width)}  STATUS   VALUE")
    for check in checks:
        colour = {"broken": typer.colors.RED, "missing": typer.colors.YELLOW}.get(check.status)
        typer.secho(f"{check.item.ljust(width)}  {check.status.ljust(7)}  {check.value}", fg=colour)
    broken = [check.item for check in checks if check.broken]
    if broken:
        typer.secho(f"broken: {', '.join(broken)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
