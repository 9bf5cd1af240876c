"""The ``dlab`` command line. Each command parses its flags and makes one call into ``dlab.api``.

Exit codes: 0 success; 1 the run failed while training; 2 bad input (config,
flags, data, output folder), reported before anything is trained; 130 the user
pressed Ctrl-C. Without ``--debug`` errors are one clear message, no traceback.

TensorFlow and Keras are not imported here (nor by ``dlab.api`` at import
time), so ``dlab --help``, ``dlab list`` and ``dlab show`` answer at once.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from dlab import __version__

T = TypeVar("T")

app = typer.Typer(
    name="dlab",
    help="dlab: classic deep-learning experiments for Keras, driven by YAML configs.\n\n"
    "Start with `dlab list`, look at a config with `dlab show NAME`, and train with "
    "`dlab run NAME` (add --smoke to try it offline in seconds on synthetic data).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the dlab version and exit."),
) -> None:
    """dlab: classic deep-learning experiments for Keras, driven by YAML configs."""


def _call(function: Callable[..., T], *args: Any, show_traceback: bool = False,
          **kwargs: Any) -> T:
    """Call into the API; turn dlab errors into a message and an exit code."""
    from dlab.errors import DlabError

    try:
        return function(*args, **kwargs)
    except DlabError as error:
        if show_traceback:
            raise
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        typer.secho("interrupted", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(130) from None


@app.command("list")
def list_command() -> None:
    """List the runnable configs: name, family, dataset and what each one shows."""
    from dlab import api

    rows = _call(api.list_experiments)
    headers = ("NAME", "FAMILY", "DATASET", "DESCRIPTION")
    table = [headers, *((r.name, r.family, r.dataset, r.description) for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    total = shutil.get_terminal_size((120, 20)).columns
    room = max(total - sum(widths) - 6, 20)
    for row in table:
        description = row[3] if len(row[3]) <= room else row[3][: room - 3] + "..."
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
                   + "  " + description)


_CONFIG_HELP = "A config name from `dlab list` (e.g. cnn-cifar10) or a YAML file (e.g. a run's config.yaml)."
_SET_HELP = ("Override any config key, e.g. --set train.optimizer.learning_rate=0.01 "
             "--set data.source=synthetic. The value is parsed as YAML. Repeatable; applied last.")


@app.command("show")
def show_command(
    config: str = typer.Argument(..., metavar="NAME|FILE", help=_CONFIG_HELP),
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Override train.batch_size."),
    seed: int | None = typer.Option(None, "--seed", help="Override seed."),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=_SET_HELP),
    smoke: bool = typer.Option(False, "--smoke", help="Show the config as --smoke would run it."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Print the resolved config (defaults, YAML, `extends` and overrides applied) as YAML."""
    from dlab import api

    text = _call(api.show_config, config, epochs=epochs, batch_size=batch_size, seed=seed,
                 sets=sets, smoke=smoke, show_traceback=debug)
    typer.echo(text, nl=False)


@app.command("run")
def run_command(
    config: str = typer.Argument(..., metavar="NAME|FILE", help=_CONFIG_HELP),
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Override train.batch_size."),
    seed: int | None = typer.Option(None, "--seed", help="Override seed (Python, NumPy, backend)."),
    out: str = typer.Option("outputs", "--out", metavar="DIR",
                            help="Outputs root; the run goes to DIR/<config>/<time>-<id>/."),
    device: str = typer.Option("auto", "--device", metavar="auto|cpu|gpu",
                               help="auto uses a GPU when there is one; cpu hides GPUs; gpu "
                               "fails clearly when there is none."),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=_SET_HELP),
    smoke: bool = typer.Option(False, "--smoke",
                               help="Offline check in seconds: synthetic data of the real shapes, "
                               "few samples, 1 epoch unless --epochs says otherwise."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not write model.keras."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Train and evaluate one config; write history, plots, metrics.json and the model.

    Examples:

      dlab run cnn-cifar10 --epochs 10

      dlab run cnn-cifar10 --smoke

      dlab run cnn-cifar10 --set data.source=file --set data.path=cifar10.npz

      dlab run outputs/cnn-cifar10/20261121-120000-ab12cd/config.yaml
    """
    from dlab import api

    try:
        result = _call(api.run, config, epochs=epochs, batch_size=batch_size, seed=seed, out=out,
                       device=device, sets=sets, smoke=smoke, save_model=not no_save, debug=debug,
                       show_traceback=debug)
    except typer.Exit:
        raise
    except Exception as error:  # a failure while training: metrics.json says "failed"
        if debug:
            raise
        typer.secho(f"error: the run failed: {type(error).__name__}: {error}\n"
                    "(the traceback is in the run directory's run.log; --debug shows it here)",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    _print_run_summary(result)


def _print_run_summary(result: Any) -> None:
    metrics = result.metrics
    test = metrics.get("test") or {}
    shown = ", ".join(f"{key} {value:.4f}" for key, value in test.items()
                      if isinstance(value, (int, float)))
    timing = metrics.get("timing") or {}
    typer.echo(f"status: {metrics.get('status')}  wall time: {metrics.get('wall_time_s')} s"
               + (f"  ({timing['train_samples_per_s']} samples/s)"
                  if timing.get("train_samples_per_s") else ""))
    if shown:
        typer.echo(f"test: {shown}")
    typer.echo(f"run directory: {result.run_dir}")


@app.command("tune")
def tune_command(
    config: str | None = typer.Argument(None, metavar="NAME|FILE",
                                        help="A tuner config (e.g. tune-mnist-mlp) or its YAML "
                                        "file; optional with --resume."),
    resume: str | None = typer.Option(None, "--resume", metavar="RUN_DIR",
                                      help="Continue the search of this run directory (in a new "
                                      "run directory); refused if the search space changed."),
    max_trials: int | None = typer.Option(None, "--max-trials", min=1,
                                          help="Override model.max_trials (raise it to extend a "
                                          "search with --resume)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs (per trial)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Override train.batch_size."),
    seed: int | None = typer.Option(None, "--seed", help="Override seed (tuner and trials)."),
    out: str = typer.Option("outputs", "--out", metavar="DIR",
                            help="Outputs root; the search goes to DIR/<config>/<time>-<id>/."),
    device: str = typer.Option("auto", "--device", metavar="auto|cpu|gpu",
                               help="auto uses a GPU when there is one; cpu hides GPUs; gpu "
                               "fails clearly when there is none."),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=_SET_HELP),
    smoke: bool = typer.Option(False, "--smoke",
                               help="Offline check in seconds: synthetic data, 2 trials of 1 epoch."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not write model.keras."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Search hyperparameters with keras-tuner; write trials.csv and best-config.yaml.

    Examples:

      dlab tune tune-mnist-mlp

      dlab tune tune-mnist-cnn --smoke

      dlab tune --resume outputs/tune-mnist-mlp/20261122-120000-ab12cd --max-trials 10

      dlab run outputs/tune-mnist-mlp/20261122-120000-ab12cd/best-config.yaml
    """
    from dlab import api

    try:
        result = _call(api.tune, config, resume=resume, max_trials=max_trials, epochs=epochs,
                       batch_size=batch_size, seed=seed, out=out, device=device, sets=sets,
                       smoke=smoke, save_model=not no_save, debug=debug, show_traceback=debug)
    except typer.Exit:
        raise
    except Exception as error:  # a failure while searching: metrics.json says "failed"
        if debug:
            raise
        typer.secho(f"error: the search failed: {type(error).__name__}: {error}\n"
                    "(the traceback is in the run directory's run.log; --debug shows it here)",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    best = (result.metrics.get("tuner") or {}).get("best") or {}
    if best:
        typer.echo(f"best trial: #{best['trial']}  {result.metrics['tuner']['objective']} "
                   f"{best['score']:.4f}  {best['hyperparameters']}")
        typer.echo(f"best config: {best['config']}  (dlab run FILE trains it)")
    _print_run_summary(result)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
