"""The Typer app and what every command shares: the API call wrapper, common options, the run summary.

Exit codes: 0 success; 1 the run failed while training; 2 bad input (config,
flags, data, output folder), reported before anything is trained; 130 the user
pressed Ctrl-C. Without ``--debug`` errors are one clear message, no traceback.

TensorFlow and Keras are not imported here (nor by ``dlab.api`` at import
time), so ``dlab --help``, ``dlab list`` and ``dlab show`` answer at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.core import TyperGroup

from dlab import __version__, api
from dlab.cli.leave import leave
from dlab.cli.streams import protect_console
from dlab.errors import DlabError

T = TypeVar("T")


class _Group(TyperGroup):
    """The dlab command group: flags show no ``<bool>`` type after their name (a flag takes no value,
    so a type there reads as if one were expected)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _no_flag_types([*command.params, command.get_help_option(ctx)])
        return command

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_flag_types(super().get_params(ctx))


def _no_flag_types(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


app = typer.Typer(
    name="dlab",
    help="dlab: classic deep-learning experiments for Keras, driven by YAML configs.\n\n"
    "Start with `dlab list`, look at a config with `dlab show NAME`, and train with "
    "`dlab run NAME` (add --smoke to try it offline in seconds on synthetic data).",
    no_args_is_help=True,
    cls=_Group,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the dlab version and exit."
    ),
) -> None:
    """dlab: classic deep-learning experiments for Keras, driven by YAML configs."""


def call_api(function: Callable[..., T], *args: Any, show_traceback: bool = False, **kwargs: Any) -> T:
    """Call into the API; turn dlab errors into a message and an exit code."""
    try:
        return function(*args, **kwargs)
    except DlabError as error:
        if show_traceback:
            raise
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt as error:  # Ctrl-C or SIGTERM: 130 / 143, as a shell reports them
        typer.secho(
            f"interrupted: {error}" if str(error) else "interrupted", fg=typer.colors.YELLOW, err=True
        )
        raise typer.Exit(getattr(error, "exit_code", 130)) from None


def call_training(
    what: str, function: Callable[..., T], *args: Any, show_traceback: bool = False, **kwargs: Any
) -> T:
    """:func:`call_api` for commands that train: a failure while training is exit 1, not a traceback.

    Args:
        what: what failed, in words ("run", "search").
    """
    try:
        return call_api(function, *args, show_traceback=show_traceback, **kwargs)
    except typer.Exit:
        raise
    except Exception as error:  # a failure while training: metrics.json says "failed"
        if show_traceback:
            raise
        typer.secho(unexpected_error(error, what), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def unexpected_error(error: BaseException, what: str) -> str:
    """The one-line report of an unexpected error: where its traceback is, if anywhere."""
    log = getattr(error, "dlab_run_log", None)  # set by api.run once the run directory exists
    if log is None:
        return (
            f"error: the {what} could not start: {type(error).__name__}: {error}\n(no run "
            "directory was created, so there is no run.log; --debug shows the traceback)"
        )
    return (
        f"error: the {what} failed: {type(error).__name__}: {error}\n(the traceback is in "
        f"{log}; --debug shows it here)"
    )


DEVICE_HELP = "auto uses a GPU when there is one; cpu hides GPUs; gpu fails clearly when there is none."
MLFLOW_URI_HELP = (
    "MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db beside --out)."
)


def device_option(help_text: str = DEVICE_HELP) -> Any:
    """--device for the commands that use a saved run (the training commands' is
    :data:`dlab.cli.options.Device`)."""
    return typer.Option("auto", "--device", metavar="auto|cpu|gpu", help=help_text)


def debug_option(help_text: str = "Show full tracebacks on errors.") -> Any:
    """--debug: every command turns dlab errors into one line unless it is given."""
    return typer.Option(False, "--debug", help=help_text)


def mlflow_uri_option() -> Any:
    """--mlflow-uri for ``dlab mlflow-sync`` (the training commands': :data:`dlab.cli.options.MLflowUri`)."""
    return typer.Option(None, "--mlflow-uri", metavar="URI", help=MLFLOW_URI_HELP)


def complete_config(incomplete: str) -> list[str]:
    """Shell completion of a config name or YAML file."""
    return api.complete_configs(incomplete)


def complete_sweep_target(incomplete: str) -> list[str]:
    return api.complete_studies(incomplete) + api.complete_configs(incomplete)


def complete_run_dir(incomplete: str) -> list[str]:
    return api.complete_run_dirs(incomplete)


CONFIG_HELP = "A config name from `dlab list` (e.g. cnn-cifar10) or a YAML file (e.g. a run's config.yaml)."
SET_HELP = (
    "Override any config key, e.g. --set train.optimizer.learning_rate=0.01 "
    "--set data.source=synthetic. The value is parsed as YAML. Repeatable; applied last."
)


def print_run_summary(result: Any) -> None:
    metrics = result.metrics
    test = metrics.get("test") or {}
    shown = ", ".join(f"{key} {value:.4f}" for key, value in test.items() if isinstance(value, (int, float)))
    timing = metrics.get("timing") or {}
    stopped = f"  (stopped early: {metrics['stopped_early']})" if metrics.get("stopped_early") else ""
    typer.echo(
        f"status: {metrics.get('status')}{stopped}  wall time: {metrics.get('wall_time_s')} s"
        + (f"  ({timing['train_samples_per_s']} samples/s)" if timing.get("train_samples_per_s") else "")
    )
    if shown:
        typer.echo(f"test: {shown}")
    typer.echo(f"run directory: {result.run_dir}")


RUNS_HELP = (
    "Run directories (outputs/<config>/<time>-<id>), metrics.json files, sweep directories "
    "or folders of runs."
)
FORMAT_HELP = "Output format: table, csv, json or markdown (what a CI job posts as a comment)."


def checked_format(name: str) -> str:
    return call_api(api.check_format, name)


def main() -> None:
    """Console-script entry point: run the command, then leave without Python's slow
    teardown of TensorFlow (:mod:`dlab.cli.leave`)."""
    protect_console()  # `dlab run ... | head` must not break the run (dlab.cli.streams)
    try:
        app()
    except KeyboardInterrupt as error:
        code: object = getattr(error, "exit_code", 130)
    except SystemExit as done:  # how Typer ends every command
        code = done.code
    else:
        code = 0
    leave(code)
