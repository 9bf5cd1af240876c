"""The Typer app and what every command shares: the API call wrapper, common options, the run summary.

Exit codes: 0 success; 1 the run failed while training; 2 bad input (config,
flags, data, output folder), reported before anything is trained; 130 the user
pressed Ctrl-C. Without ``--debug`` errors are one clear message, no traceback.

TensorFlow and Keras are not imported here (nor by ``dlab.api`` at import
time), so ``dlab --help``, ``dlab list`` and ``dlab show`` answer at once. Whichever
command does import them, their start-up log lines stay off the console and out of run.log
(:func:`main` decides it once per process; ``--debug`` shows them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.core import TyperGroup

from dlab import __version__, api

# the completions the commands' own declarations name (options.py, ecosystem.py) live with the rest
from dlab.cli.completion import complete_config as complete_config
from dlab.cli.completion import complete_run_dir as complete_run_dir
from dlab.cli.completion import complete_sweep_target as complete_sweep_target
from dlab.cli.completion import wire
from dlab.cli.leave import leave
from dlab.cli.streams import protect_console
from dlab.errors import DlabError

T = TypeVar("T")


PANELS = (
    ("Run and look", ("list", "show", "data", "run", "sweep", "tune")),
    ("Results", ("runs", "compare", "diff", "check", "report", "tag", "rm")),
    ("Use a model", ("evaluate", "predict", "generate", "neighbours", "export")),
    ("Ecosystem", ("doctor", "init", "schema", "tensorboard", "mlflow-sync")),
)
"""``dlab --help``'s command groups, in the order a newcomer meets them. A command in no group
is listed first, under "Commands" (a test keeps every command in a group)."""


class _Group(TyperGroup):
    """The dlab command group: commands listed in their :data:`PANELS` groups; every parameter that
    names a config, a run, a file or a key completes (:mod:`dlab.cli.completion`); flags show no
    ``<bool>`` type after their name (a flag takes no value, so a type there reads as if one
    were expected)."""

    def list_commands(self, ctx: Any) -> list[str]:
        order = [name for _, names in PANELS for name in names]
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: order.index(name) if name in order else -1)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            command.rich_help_panel = next((panel for panel, names in PANELS if cmd_name in names), None)
            _prepare(cmd_name, command, ctx)
        return command

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_flag_types(super().get_params(ctx))


def _prepare(path: str, command: Any, ctx: Any) -> None:
    """Completion and flag metavars for a command, and for each command of a sub-group (``data``)."""
    _no_flag_types([*command.params, command.get_help_option(ctx)])
    wire(path, command.params)
    for name, sub in (getattr(command, "commands", None) or {}).items():
        _prepare(f"{path} {name}", sub, ctx)


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


DEBUG_HELP = "Show full tracebacks on errors, and TensorFlow's own start-up log lines."


def debug_option(help_text: str = DEBUG_HELP) -> Any:
    """--debug: every command turns dlab errors into one line unless it is given."""
    return typer.Option(False, "--debug", help=help_text)


def mlflow_uri_option() -> Any:
    """--mlflow-uri for ``dlab mlflow-sync`` (the training commands': :data:`dlab.cli.options.MLflowUri`)."""
    return typer.Option(None, "--mlflow-uri", metavar="URI", help=MLFLOW_URI_HELP)


CONFIG_HELP = "A config name from `dlab list` (e.g. cnn-cifar10) or a YAML file (e.g. a run's config.yaml)."
SET_HELP = (
    "Override any config key, e.g. --set train.optimizer.learning_rate=0.01 "
    "--set data.source=synthetic. The value is parsed as YAML. Repeatable; applied last."
)


def print_run_summary(result: Any) -> None:
    """The run's last lines (``status:``, ``test:``, ``run directory:``); run.log ends with them too."""
    for line in api.summarize(result):
        typer.echo(line)


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
    # TensorFlow's and JAX's start-up lines stay quiet whichever command imports them (loading a
    # model, tf.data, keras-tuner): decided once, here, from the raw arguments (--debug shows them)
    api.quiet_native_output(show="--debug" in sys.argv[1:])
    try:
        app()
    except KeyboardInterrupt as error:
        code: object = getattr(error, "exit_code", 130)
    except SystemExit as done:  # how Typer ends every command
        code = done.code
    else:
        code = 0
    leave(code)
