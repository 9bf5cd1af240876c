"""``dlab list``, ``dlab show`` and ``dlab run``: look at configs and train one."""

from __future__ import annotations

import shutil

import typer

from dlab.cli.app import (
    CONFIG_HELP,
    SET_HELP,
    app,
    backend_option,
    call_api,
    call_training,
    complete_config,
    debug_option,
    device_option,
    mlflow_option,
    mlflow_uri_option,
    print_run_summary,
    quiet_option,
    tensorboard_option,
    verbose_option,
)


@app.command("list")
def list_command(
    family: str | None = typer.Option(
        None, "--family", metavar="NAME", help="Only this family (e.g. 'text', 'dense networks')."
    ),
    fmt: str = typer.Option("table", "--format", metavar="table|json|names", help="Output format."),
) -> None:
    """List the runnable configs by family: name, dataset and what each one shows."""
    from dlab import api

    width = shutil.get_terminal_size((100, 20)).columns
    typer.echo(call_api(api.experiments_listing, family=family, fmt=fmt, width=width), nl=False)


@app.command("show")
def show_command(
    config: str = typer.Argument(..., metavar="NAME|FILE", help=CONFIG_HELP),
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Override train.batch_size."),
    seed: int | None = typer.Option(None, "--seed", help="Override seed."),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=SET_HELP),
    smoke: bool = typer.Option(False, "--smoke", help="Show the config as --smoke would run it."),
    debug: bool = debug_option("Show tracebacks."),
) -> None:
    """Print the resolved config (defaults, YAML, `extends` and overrides applied) as YAML."""
    from dlab import api

    text = call_api(
        api.show_config,
        config,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        sets=sets,
        smoke=smoke,
        show_traceback=debug,
    )
    typer.echo(text, nl=False)


@app.command("run")
def run_command(
    config: str = typer.Argument(..., metavar="NAME|FILE", help=CONFIG_HELP, autocompletion=complete_config),
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Override train.batch_size."),
    seed: int | None = typer.Option(None, "--seed", help="Override seed (Python, NumPy, backend)."),
    out: str = typer.Option(
        "outputs", "--out", metavar="DIR", help="Outputs root; the run goes to DIR/<config>/<time>-<id>/."
    ),
    device: str = device_option(),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=SET_HELP),
    smoke: bool = typer.Option(
        False,
        "--smoke",
        help="Offline check in seconds: synthetic data of the real shapes, "
        "few samples, 1 epoch unless --epochs says otherwise.",
    ),
    no_save: bool = typer.Option(False, "--no-save", help="Do not write model.keras."),
    debug: bool = debug_option(),
    resume: str | None = typer.Option(
        None,
        "--resume",
        metavar="RUN_DIR",
        help="Continue this interrupted or failed run from its last complete epoch (same "
        "config required; Keras runs trained by one model.fit).",
    ),
    fresh: bool = typer.Option(
        False, "--fresh", help="Start a new run directory (the default; not with --resume)."
    ),
    max_wall_time: str | None = typer.Option(
        None,
        "--max-wall-time",
        metavar="DURATION",
        help="Stop after the epoch that crosses this wall time (seconds, or 90s, 30m, 2h); "
        "the run still completes (stopped_early: time_limit).",
    ),
    backend: str | None = backend_option(),
    verbose: int | None = verbose_option(),
    quiet: bool = quiet_option(),
    tensorboard: bool = tensorboard_option(),
    mlflow: bool = mlflow_option(),
    mlflow_uri: str | None = mlflow_uri_option(),
    strategy: str | None = typer.Option(
        None,
        "--strategy",
        metavar="default|mirrored",
        help="Override train.strategy: mirrored trains on every visible GPU (batch size stays global).",
    ),
    precision: str | None = typer.Option(
        None,
        "--precision",
        metavar="float32|mixed_float16|mixed_bfloat16",
        help="Override train.precision (Keras dtype policy; mixed_float16 needs a GPU).",
    ),
    jit: str | None = typer.Option(
        None, "--jit", metavar="auto|true|false", help="Override train.jit_compile (XLA)."
    ),
) -> None:
    """Train and evaluate one config; write history, plots, metrics.json and the model.

    Examples:

      dlab run cnn-cifar10 --epochs 10

      dlab run cnn-cifar10 --smoke

      dlab run cnn-cifar10 --set data.source=file --set data.path=cifar10.npz

      dlab run outputs/cnn-cifar10/20261121-120000-ab12cd/config.yaml

      dlab run cnn-cifar10 --resume outputs/cnn-cifar10/20261121-120000-ab12cd
    """
    from dlab import api

    result = call_training(
        "run",
        api.run,
        config,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        out=out,
        device=device,
        sets=sets,
        smoke=smoke,
        save_model=not no_save,
        debug=debug,
        resume=resume,
        fresh=fresh,
        max_wall_time=max_wall_time,
        backend=backend,
        verbose=verbose,
        quiet=quiet,
        tensorboard=tensorboard,
        mlflow=mlflow,
        mlflow_uri=mlflow_uri,
        strategy=strategy,
        precision=precision,
        jit=jit,
        show_traceback=debug,
    )
    print_run_summary(result)
