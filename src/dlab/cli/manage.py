"""Managing saved runs: ``dlab tag`` and ``dlab rm``.

``rm`` shows what it will delete and asks; ``--yes`` answers for scripts, and without a
terminal to ask on it refuses (exit 2) rather than guess.
"""

from __future__ import annotations

import sys

import typer

from dlab import api
from dlab.cli.app import app, call_api, debug_option


@app.command("tag")
def tag_command(
    run: str = typer.Argument(..., metavar="RUN", help="A run directory."),
    tags: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Tags to set.", show_default=False),
    remove: list[str] = typer.Option(
        [], "--remove", "-r", metavar="KEY", help="A tag to remove (repeatable)."
    ),
    note: str | None = typer.Option(None, "--note", metavar="TEXT", help='The run\'s note ("" clears it).'),
    debug: bool = debug_option("Show tracebacks."),
) -> None:
    """Tag a finished run (or change its note); with no tags, show its tags.

    Examples:

      dlab tag outputs/mlp-mnist/20261206-101500-ab12cd purpose=baseline data=v2

      dlab tag RUN --remove data --note "the run the report cites"

      dlab runs --tag purpose=baseline
    """
    result = call_api(api.tag, run, tags or (), remove, note, show_traceback=debug)
    shown = " ".join(f"{key}={value}" for key, value in sorted(result["tags"].items())) or "(no tags)"
    typer.echo(f"{result['run']}: {shown}")
    if result["note"]:
        typer.echo(f"note: {result['note']}")


@app.command("rm")
def rm_command(
    paths: list[str] = typer.Argument(..., metavar="RUN|SWEEP...", help="Run directories or sweep folders."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking."),
    debug: bool = debug_option("Show tracebacks."),
) -> None:
    """Delete runs, or sweeps with their member runs; a run still running is refused.

    Only what dlab made goes: run directories (their metrics.json is dlab's) and the files a
    sweep writes; anything else in a sweep folder stays. Exit 2 without a change when any path is
    not a run or sweep, or a run is still running.
    """
    plan = call_api(api.plan_removal, paths, show_traceback=debug)
    for line in plan.describe():
        typer.echo(line)
    if not yes:
        if not sys.stdin.isatty():
            typer.secho("error: not deleting without --yes (no terminal to ask on).", fg="red", err=True)
            raise typer.Exit(2)
        if not typer.confirm("Delete them?", default=False):
            typer.echo("nothing deleted")
            raise typer.Exit(1)
    outcome = call_api(api.remove, plan, show_traceback=debug)
    typer.echo(f"deleted {len(outcome.removed)} folder(s)")
    for path in outcome.left:
        typer.echo(f"kept {path}: dlab did not write it", err=True)
