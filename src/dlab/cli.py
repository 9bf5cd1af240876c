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
    except KeyboardInterrupt as error:  # Ctrl-C or SIGTERM: 130 / 143, as a shell reports them
        typer.secho(f"interrupted: {error}" if str(error) else "interrupted",
                    fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(getattr(error, "exit_code", 130)) from None


def _device_option(help_text: str = "auto uses a GPU when there is one; cpu hides GPUs; gpu "
                   "fails clearly when there is none.") -> Any:
    """--device, the same choice for every command that trains."""
    return typer.Option("auto", "--device", metavar="auto|cpu|gpu", help=help_text)


def _debug_option(help_text: str = "Show full tracebacks on errors.") -> Any:
    """--debug: every command turns dlab errors into one line unless it is given."""
    return typer.Option(False, "--debug", help=help_text)


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
    debug: bool = _debug_option("Show tracebacks."),
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
    device: str = _device_option(),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=_SET_HELP),
    smoke: bool = typer.Option(False, "--smoke",
                               help="Offline check in seconds: synthetic data of the real shapes, "
                               "few samples, 1 epoch unless --epochs says otherwise."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not write model.keras."),
    debug: bool = _debug_option(),
    resume: str | None = typer.Option(
        None, "--resume", metavar="RUN_DIR",
        help="Continue this interrupted or failed run from its last complete epoch (same "
        "config required; Keras runs trained by one model.fit)."),
    fresh: bool = typer.Option(False, "--fresh",
                               help="Start a new run directory (the default; not with --resume)."),
    max_wall_time: str | None = typer.Option(
        None, "--max-wall-time", metavar="DURATION",
        help="Stop after the epoch that crosses this wall time (seconds, or 90s, 30m, 2h); "
        "the run still completes (stopped_early: time_limit)."),
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
        result = _call(api.run, config, epochs=epochs, batch_size=batch_size, seed=seed, out=out,
                       device=device, sets=sets, smoke=smoke, save_model=not no_save, debug=debug,
                       resume=resume, fresh=fresh, max_wall_time=max_wall_time,
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
    stopped = f"  (stopped early: {metrics['stopped_early']})" if metrics.get("stopped_early") else ""
    typer.echo(f"status: {metrics.get('status')}{stopped}  wall time: {metrics.get('wall_time_s')} s"
               + (f"  ({timing['train_samples_per_s']} samples/s)"
                  if timing.get("train_samples_per_s") else ""))
    if shown:
        typer.echo(f"test: {shown}")
    typer.echo(f"run directory: {result.run_dir}")

# --------------------------------------------------------------------------- saved runs

_RUNS_HELP = ("Run directories (outputs/<config>/<time>-<id>), metrics.json files, sweep directories "
              "or folders of runs.")
_FORMAT_HELP = "Output format: table, csv, json or markdown (what a CI job posts as a comment)."


def _format(name: str) -> str:
    from dlab.tables import check_format

    return _call(check_format, name)


@app.command("compare")
def compare_command(
    paths: list[str] = typer.Argument(..., metavar="RUN|METRICS.json|SWEEP_DIR...", help=_RUNS_HELP),
    metrics: list[str] = typer.Option([], "--metric", "-m", metavar="NAME",
                                      help="A metric to show, by its dotted path in metrics.json "
                                      "(test.accuracy, final.val.loss, wall_time_s) or a glob "
                                      "(test.*). Repeatable. Default: all numeric metrics the "
                                      "completed runs share."),
    baseline: str | None = typer.Option(None, "--baseline", "-b", metavar="RUN",
                                        help="Show differences from this run; 'baseline' in "
                                        "--fail-if means its value."),
    fail_if: list[str] = typer.Option([], "--fail-if", metavar="EXPR",
                                      help="Exit with 1 when EXPR holds for any run, e.g. "
                                      "\"test.accuracy < baseline - 0.01\" or "
                                      "\"wall_time_s > 1.2 * baseline\". Metric names, numbers, "
                                      "baseline, + - * / ( ), one of < <= > >= == !=. Repeatable."),
    curve: str | None = typer.Option(None, "--curve", metavar="COLUMN",
                                     help="Overlay this history column across runs (loss draws "
                                     "train and validation, val_loss only validation)."),
    output: str | None = typer.Option(None, "--output", "-o", metavar="FILE.png",
                                      help="Where --curve writes its PNG (default compare-<COLUMN>.png)."),
    fmt: str = typer.Option("table", "--format", "-f", help=_FORMAT_HELP),
    debug: bool = _debug_option("Show tracebacks."),
) -> None:
    """Compare saved runs: metrics side by side, differences from a baseline, CI gates.

    Exit code 1 when a --fail-if gate fails (the failing comparisons are listed), 2 on bad input.

    Examples:

      dlab compare outputs/cnn-cifar10 --metric test.accuracy --metric wall_time_s

      dlab compare NEW --baseline OLD --fail-if "test.accuracy < baseline - 0.01" --format markdown

      dlab compare outputs/sweeps/lr-20261122-101500-ab12cd --curve val_loss -o val_loss.png
    """
    from dlab import api

    fmt = _format(fmt)
    comparison = _call(api.compare, paths, metrics=metrics, baseline=baseline, fail_if=fail_if,
                       curve=curve, curve_output=output, show_traceback=debug)
    typer.echo(comparison.render(fmt), nl=False)
    if comparison.curve is not None:
        typer.echo(f"curve: {comparison.curve}", err=True)
    failed = comparison.failed_gates
    if failed:
        if fmt in ("csv", "json"):  # keep stdout parseable; the table formats list them already
            typer.echo(f"gates: {len(failed)} of {len(comparison.gates)} checks FAILED:", err=True)
            for outcome in failed:
                typer.echo(f"  {outcome.describe()}", err=True)
        raise typer.Exit(1)


@app.command("check")
def check_command(
    paths: list[str] = typer.Argument(..., metavar="RUN...", help=_RUNS_HELP),
    tolerance: str = typer.Option("5%", "--tolerance", "-t", metavar="5%|0.01",
                                  help="How far from the reference counts as reproduced: a "
                                  "percentage of the reference (5%) or an absolute amount in the "
                                  "metric's units (0.01)."),
    include_smoke: bool = typer.Option(False, "--include-smoke",
                                       help="Judge smoke runs (synthetic data) too instead of "
                                       "reporting them as not comparable."),
    fmt: str = typer.Option("table", "--format", "-f", help=_FORMAT_HELP),
    debug: bool = _debug_option("Show tracebacks."),
) -> None:
    """Check runs against the reference: block of their config (the published numbers).

    Exit code 1 when a result is outside the tolerance or a run did not complete.
    """
    from dlab import api

    fmt = _format(fmt)
    result = _call(api.check, paths, tolerance=tolerance, include_smoke=include_smoke,
                   show_traceback=debug)
    typer.echo(result.render(fmt), nl=False)
    if result.failed:
        raise typer.Exit(1)


@app.command("runs")
def runs_command(
    experiment: str | None = typer.Option(None, "--experiment", "-e", metavar="NAME",
                                          help="Only runs of this config or experiment (a glob: "
                                          "'mlp-imdb*')."),
    status: str | None = typer.Option(None, "--status", "-s",
                                      metavar="running|completed|failed|interrupted",
                                      help="Only runs with this status."),
    out: str = typer.Option("outputs", "--out", metavar="DIR", help="The outputs root to list."),
    fmt: str = typer.Option("table", "--format", "-f", help=_FORMAT_HELP),
    debug: bool = _debug_option("Show tracebacks."),
) -> None:
    """List the runs under the outputs root: status, key metrics, start and wall time."""
    from dlab import api
    from dlab.runlist import render_runs

    fmt = _format(fmt)
    rows = _call(api.list_runs, out, experiment=experiment, status=status, show_traceback=debug)
    typer.echo(render_runs(rows, fmt), nl=False)


@app.command("report")
def report_command(
    paths: list[str] = typer.Argument(..., metavar="RUNS|SWEEP...", help=_RUNS_HELP),
    output: str = typer.Option("report.html", "--output", "-o", metavar="FILE.html",
                               help="The HTML file to write."),
    metrics: list[str] = typer.Option([], "--metric", "-m", metavar="NAME",
                                      help="Metrics for the summary table (default: all shared)."),
    title: str | None = typer.Option(None, "--title", help="The page title."),
    debug: bool = _debug_option("Show tracebacks."),
) -> None:
    """Write one self-contained HTML file (plots embedded) that summarizes runs."""
    from dlab import api

    path = _call(api.report, paths, output, metrics=metrics, title=title, show_traceback=debug)
    typer.echo(f"report: {path}")


@app.command("sweep")
def sweep_command(
    targets: list[str] = typer.Argument(..., metavar="STUDY|CONFIG|GLOB...",
                                        help="One study (configs/studies: a name or file), or "
                                        "configs: names, YAML files, globs ('configs/*.yaml', "
                                        "'mnist-*')."),
    grid: list[str] = typer.Option([], "--grid", metavar="KEY=V1,V2",
                                   help="Run every combination of these values (repeatable), e.g. "
                                   "--grid train.optimizer.learning_rate=0.01,0.1 "
                                   "--grid model.hidden=[3],[3,3]."),
    seeds: str | None = typer.Option(None, "--seeds", metavar="N|S1,S2",
                                     help="Run each member with seeds 1..N (or these seeds); the "
                                     "summary adds mean, std and a 95% interval per metric."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Runs at a time, each in its own process "
                             "with its share of the CPU threads and, where there are GPUs, one GPU."),
    fail_fast: bool = typer.Option(False, "--fail-fast",
                                   help="Stop at the first failed run (the others are interrupted)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs in every run."),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=_SET_HELP),
    smoke: bool = typer.Option(False, "--smoke", help="Every run in smoke mode (offline, seconds)."),
    out: str = typer.Option("outputs", "--out", metavar="DIR",
                            help="Outputs root: runs go to DIR/<config>/, the sweep to DIR/sweeps/."),
    device: str = _device_option("The device of every run (see dlab run --help)."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not write model.keras files."),
    debug: bool = _debug_option(),
) -> None:
    """Run many configs, several at a time; write summary.csv/json (and study figures).

    Every run is checked before the first one starts. Exit code 0 when all runs
    completed, 1 when any failed (each failure is recorded with its error and log),
    2 for bad input.

    Examples:

      dlab sweep playground-architectures --jobs 2

      dlab sweep 'configs/*.yaml' --smoke --jobs 2

      dlab sweep playground-mlp --grid model.hidden=[2],[3] --seeds 5
    """
    from dlab import api
    from dlab.sweep_console import ConsoleProgress

    result = _call(api.sweep, targets, grid=grid, seeds=seeds, jobs=jobs, fail_fast=fail_fast,
                   epochs=epochs, sets=sets, smoke=smoke, out=out, device=device,
                   save_model=not no_save, progress=ConsoleProgress(sys.stdout),
                   show_traceback=debug)
    raise typer.Exit(result.exit_code)


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
    device: str = _device_option(),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help=_SET_HELP),
    smoke: bool = typer.Option(False, "--smoke",
                               help="Offline check in seconds: synthetic data, 2 trials of 1 epoch."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not write model.keras."),
    debug: bool = _debug_option(),
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
    except KeyboardInterrupt as error:
        sys.exit(getattr(error, "exit_code", 130))
