"""Many runs: ``dlab sweep`` (configs, studies, grids, seeds) and ``dlab tune`` (keras-tuner)."""

from __future__ import annotations

import sys

import typer

from dlab.cli.app import (
    SET_HELP,
    app,
    call_api,
    call_training,
    complete_config,
    complete_sweep_target,
    debug_option,
    device_option,
    mlflow_option,
    mlflow_uri_option,
    print_run_summary,
    quiet_option,
    tensorboard_option,
    verbose_option,
)


@app.command("sweep")
def sweep_command(
    targets: list[str] = typer.Argument(
        ...,
        metavar="STUDY|CONFIG|GLOB...",
        help="One study (configs/studies: a name or file), or "
        "configs: names, YAML files, globs ('configs/*.yaml', "
        "'mnist-*').",
        autocompletion=complete_sweep_target,
    ),
    grid: list[str] = typer.Option(
        [],
        "--grid",
        metavar="KEY=V1,V2",
        help="Run every combination of these values (repeatable), e.g. "
        "--grid train.optimizer.learning_rate=0.01,0.1 "
        "--grid model.hidden=[3],[3,3].",
    ),
    seeds: str | None = typer.Option(
        None,
        "--seeds",
        metavar="N|S1,S2",
        help="Run each member with seeds 1..N (or these seeds); the "
        "summary adds mean, std and a 95% interval per metric.",
    ),
    jobs: int = typer.Option(
        1,
        "--jobs",
        "-j",
        help="Runs at a time, each in its own process "
        "with its share of the CPU threads and, where there are GPUs, one GPU.",
    ),
    fail_fast: bool = typer.Option(
        False, "--fail-fast", help="Stop at the first failed run (the others are interrupted)."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs in every run."),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=SET_HELP),
    smoke: bool = typer.Option(False, "--smoke", help="Every run in smoke mode (offline, seconds)."),
    out: str = typer.Option(
        "outputs",
        "--out",
        metavar="DIR",
        help="Outputs root: runs go to DIR/<config>/, the sweep to DIR/sweeps/.",
    ),
    device: str = device_option("The device of every run (see dlab run --help)."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not write model.keras files."),
    debug: bool = debug_option(),
    verbose: int | None = verbose_option(),
    quiet: bool = quiet_option(),
    tensorboard: bool = tensorboard_option(),
    mlflow: bool = mlflow_option(),
    mlflow_uri: str | None = mlflow_uri_option(),
    backend: str = typer.Option(
        "local",
        "--backend",
        metavar="local|ray",
        help="local: --jobs processes here; ray: one Ray task per run.",
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        metavar="auto|HOST:PORT",
        help="Ray cluster to join (default: Ray on this machine).",
    ),
    cpus_per_run: float = typer.Option(1, "--cpus-per-run", help="Ray: CPUs each run reserves."),
    gpus_per_run: float = typer.Option(
        0, "--gpus-per-run", help="Ray: GPUs each run reserves (never shared)."
    ),
    shared_fs: bool = typer.Option(
        False, "--shared-fs", help="Ray: every node sees --out, so runs write there (no copy back)."
    ),
) -> None:
    """Run many configs, several at a time; write summary.csv/json (and study figures).

    Every run is checked before the first one starts. Exit code 0 when all runs
    completed, 1 when any failed (each failure is recorded with its error and log),
    2 for bad input.

    Examples:

      dlab sweep playground-architectures --jobs 2

      dlab sweep 'configs/*.yaml' --smoke --jobs 2

      dlab sweep playground-mlp --grid model.hidden=[2],[3] --seeds 5

      dlab sweep mnist-capacity --backend ray --address auto --gpus-per-run 1
    """
    from dlab import api
    from dlab.cli.sweep_console import ConsoleProgress

    result = call_api(
        api.sweep,
        targets,
        grid=grid,
        seeds=seeds,
        jobs=jobs,
        fail_fast=fail_fast,
        epochs=epochs,
        sets=sets,
        smoke=smoke,
        out=out,
        device=device,
        save_model=not no_save,
        progress=ConsoleProgress(sys.stdout, quiet=quiet),
        verbose=verbose,
        tensorboard=tensorboard,
        mlflow=mlflow,
        mlflow_uri=mlflow_uri,
        backend=backend,
        address=address,
        cpus_per_run=cpus_per_run,
        gpus_per_run=gpus_per_run,
        shared_fs=shared_fs,
        show_traceback=debug,
    )
    raise typer.Exit(result.exit_code)


@app.command("tune")
def tune_command(
    config: str | None = typer.Argument(
        None,
        metavar="NAME|FILE",
        help="A tuner config (e.g. tune-mnist-mlp) or its YAML file; optional with --resume.",
        autocompletion=complete_config,
    ),
    resume: str | None = typer.Option(
        None,
        "--resume",
        metavar="RUN_DIR",
        help="Continue the search of this run directory (in a new "
        "run directory); refused if the search space changed.",
    ),
    max_trials: int | None = typer.Option(
        None,
        "--max-trials",
        min=1,
        help="Override model.max_trials (raise it to extend a search with --resume).",
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs (per trial)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Override train.batch_size."),
    seed: int | None = typer.Option(None, "--seed", help="Override seed (tuner and trials)."),
    out: str = typer.Option(
        "outputs", "--out", metavar="DIR", help="Outputs root; the search goes to DIR/<config>/<time>-<id>/."
    ),
    device: str = device_option(),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=SET_HELP),
    smoke: bool = typer.Option(
        False, "--smoke", help="Offline check in seconds: synthetic data, 2 trials of 1 epoch."
    ),
    no_save: bool = typer.Option(False, "--no-save", help="Do not write model.keras."),
    debug: bool = debug_option(),
    verbose: int | None = verbose_option(),
    quiet: bool = quiet_option(),
    tensorboard: bool = tensorboard_option(),
    mlflow: bool = mlflow_option(),
    mlflow_uri: str | None = mlflow_uri_option(),
    chief: bool = typer.Option(
        False, "--chief", help="Serve the search to workers (keras-tuner's chief) and wait for them."
    ),
    port: int | None = typer.Option(None, "--port", help="The chief's port (default 8000)."),
    bind: str = typer.Option(
        "0.0.0.0", "--bind", metavar="HOST", help="The chief listens here (127.0.0.1: this machine only)."
    ),
    worker: str | None = typer.Option(
        None, "--worker", metavar="ID", help="Run trials for a chief as worker ID (needs --chief-address)."
    ),
    chief_address: str | None = typer.Option(
        None, "--chief-address", metavar="HOST:PORT", help="Where the chief listens (workers)."
    ),
    connect_timeout: float = typer.Option(
        30.0, "--connect-timeout", metavar="SECONDS", help="How long a worker waits for the chief."
    ),
    shared_dir: str | None = typer.Option(
        None,
        "--shared-dir",
        metavar="DIR",
        help="A folder the chief and every worker see (same path): workers keep their "
        "checkpoints there and the chief takes the best one instead of retraining it.",
    ),
    backend: str = typer.Option(
        "local", "--backend", metavar="local|ray", help="ray: serve as the chief, run --workers as Ray tasks."
    ),
    workers: int = typer.Option(2, "--workers", help="With --backend ray: keras-tuner workers to start."),
    address: str | None = typer.Option(
        None,
        "--address",
        metavar="auto|HOST:PORT",
        help="With --backend ray: the cluster (default: local Ray).",
    ),
) -> None:
    """Search hyperparameters with keras-tuner; write trials.csv and best-config.yaml.

    Examples:

      dlab tune tune-mnist-mlp

      dlab tune tune-mnist-cnn --smoke

      dlab tune --resume outputs/tune-mnist-mlp/20261122-120000-ab12cd --max-trials 10

      dlab run outputs/tune-mnist-mlp/20261122-120000-ab12cd/best-config.yaml

      dlab tune tune-mnist-mlp --chief --port 8000          (then, on each worker machine:)

      dlab tune tune-mnist-mlp --worker 1 --chief-address chief-host:8000
    """
    from dlab import api

    result = call_training(
        "search",
        api.tune,
        config,
        resume=resume,
        max_trials=max_trials,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        out=out,
        device=device,
        sets=sets,
        smoke=smoke,
        save_model=not no_save,
        debug=debug,
        verbose=verbose,
        quiet=quiet,
        tensorboard=tensorboard,
        mlflow=mlflow,
        mlflow_uri=mlflow_uri,
        chief=chief,
        port=port,
        bind=bind,
        worker=worker,
        chief_address=chief_address,
        connect_timeout=connect_timeout,
        shared_dir=shared_dir,
        backend=backend,
        workers=workers,
        address=address,
        show_traceback=debug,
    )
    if worker is not None:  # a worker writes no run directory: it says what it ran
        ran = len(result.trials)
        typer.echo(f"worker {result.worker}: {ran} trial(s) for {result.chief} in {result.seconds} s")
        raise typer.Exit(result.exit_code)
    best = (result.metrics.get("tuner") or {}).get("best") or {}
    if best:
        typer.echo(
            f"best trial: #{best['trial']}  {result.metrics['tuner']['objective']} "
            f"{best['score']:.4f}  {best['hyperparameters']}"
        )
        typer.echo(f"best config: {best['config']}  (dlab run FILE trains it)")
    print_run_summary(result)
