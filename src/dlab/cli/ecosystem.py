"""``dlab tensorboard`` and ``dlab mlflow-sync``: open runs in the tools Keras users and teams already use."""

from __future__ import annotations

import typer

from dlab import api
from dlab.cli.app import app, call_api, complete_run_dir, debug_option, mlflow_uri_option


@app.command("tensorboard")
def tensorboard_command(
    path: str = typer.Argument(
        ...,
        metavar="PATH",
        help="A run directory, a sweep directory or an outputs folder (runs without --tensorboard too).",
        autocompletion=complete_run_dir,
    ),
    port: int = typer.Option(6006, "--port", min=0, max=65535, help="Port to serve on (0: a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on (0.0.0.0: every interface)."),
    debug: bool = debug_option(),
) -> None:
    """Start TensorBoard on runs; print its URL; Ctrl-C stops it (kill -9 of dlab stops it too).

    Runs trained without --tensorboard are shown from their history,
    converted once into RUN/tensorboard/history (Keras's folders and tags).

    Examples:

      dlab tensorboard outputs/cnn-cifar10/20261121-120000-ab12cd

      dlab tensorboard outputs/sweeps/mnist-capacity-20261121-120000-ab12cd   (HParams dashboard)

      dlab tensorboard outputs --port 6007
    """
    code = call_api(
        api.tensorboard_serve, path, port=port, host=host, announce=typer.echo, show_traceback=debug
    )
    raise typer.Exit(0 if code in (0, None) else 1)


@app.command("mlflow-sync")
def mlflow_sync_command(
    paths: list[str] = typer.Argument(
        ...,
        metavar="PATHS...",
        help="Run directories, sweep directories or folders of runs (e.g. outputs).",
        autocompletion=complete_run_dir,
    ),
    mlflow_uri: str | None = mlflow_uri_option(),
    out: str = typer.Option(
        "outputs", "--out", metavar="DIR", help="Places the default store: sqlite:///mlflow.db beside DIR."
    ),
    register: str | None = typer.Option(
        None,
        "--register",
        metavar="NAME",
        help="Also make each run's model a version of registered model NAME (once per run).",
    ),
    debug: bool = debug_option(),
) -> None:
    """Log runs trained without --mlflow to MLflow, as --mlflow would have; a run already logged is skipped.

    Each run's model.keras becomes an MLflow model (runs:/ID/model), a sweep's runs are
    nested under the sweep's run, and a folder that cannot be read stops the sync before
    anything is logged (exit 2).

    Examples:

      dlab mlflow-sync outputs

      dlab mlflow-sync outputs/sweeps/imdb-capacity-20261121-120000-ab12cd --mlflow-uri http://127.0.0.1:5000

      dlab mlflow-sync outputs/mlp-mnist/20261121-120000-ab12cd --register mnist-mlp
    """
    logged = call_api(
        api.mlflow_sync, paths, mlflow_uri=mlflow_uri, out=out, register=register, show_traceback=debug
    )
    for item in logged:
        registered = f"  (model registered: {item.registered})" if item.registered else ""
        typer.echo(f"{'logged ' if item.new else 'already'}  {item.run_id}  {item.run_dir}{registered}")
        for note in item.notes:
            typer.secho(f"note: {note}", fg=typer.colors.YELLOW, err=True)
    fresh = sum(1 for item in logged if item.new)
    typer.echo(f"{fresh} run(s) logged, {len(logged) - fresh} already in MLflow")
