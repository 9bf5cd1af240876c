"""``dlab list``, ``dlab show`` and ``dlab run``: look at configs and train one."""

from __future__ import annotations

import shutil

import typer

from dlab.cli.app import (
    CONFIG_HELP,
    SET_HELP,
    app,
    call_api,
    debug_option,
    device_option,
    print_run_summary,
)


@app.command("list")
def list_command() -> None:
    """List the runnable configs: name, family, dataset and what each one shows."""
    from dlab import api

    rows = call_api(api.list_experiments)
    headers = ("NAME", "FAMILY", "DATASET", "DESCRIPTION")
    table = [headers, *((r.name, r.family, r.dataset, r.description) for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    total = shutil.get_terminal_size((120, 20)).columns
    room = max(total - sum(widths) - 6, 20)
    for row in table:
        description = row[3] if len(row[3]) <= room else row[3][: room - 3] + "..."
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
            + "  "
            + description
        )


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
    config: str = typer.Argument(..., metavar="NAME|FILE", help=CONFIG_HELP),
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

    try:
        result = call_api(
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
            strategy=strategy,
            precision=precision,
            jit=jit,
            show_traceback=debug,
        )
    except typer.Exit:
        raise
    except Exception as error:  # a failure while training: metrics.json says "failed"
        if debug:
            raise
        typer.secho(
            f"error: the run failed: {type(error).__name__}: {error}\n"
            "(the traceback is in the run directory's run.log; --debug shows it here)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1) from None
    print_run_summary(result)
