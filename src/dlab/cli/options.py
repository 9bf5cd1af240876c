"""Every option of the commands that train or resolve a config (``run``, ``show``, ``sweep``,
``tune``), declared once.

Each option is a Typer ``Annotated`` alias (:data:`Epochs`, :data:`Out` ...) paired with its
default in a :class:`Param`. A command lists the params it takes (:data:`RUN`, :data:`SHOW`,
:data:`SWEEP`, :data:`TUNE`) and :func:`takes` gives it exactly those: Typer parses one parameter
per option, and the command receives them as one mapping of API keywords, which becomes the typed
request the API takes (``RunRequest.from_options``, ``SweepRequest.from_options`` ...) in one call.
A ``dlab run`` option reaches a sweep's members and a search's trials through that request; the
tests run every option of :data:`RUN` through :data:`SWEEP` and :data:`TUNE` where it applies.

Nothing here imports more than Typer: ``dlab --help`` reads it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from dlab.cli.app import (
    CONFIG_HELP,
    DEBUG_HELP,
    DEVICE_HELP,
    MLFLOW_URI_HELP,
    SET_HELP,
    complete_config,
    complete_sweep_target,
)

# --------------------------------------------------------------------------- what a run is

Config = Annotated[
    str,
    typer.Argument(metavar="NAME|FILE", help=CONFIG_HELP, autocompletion=complete_config, show_default=False),
]
TunerConfig = Annotated[
    str | None,
    typer.Argument(
        metavar="NAME|FILE",
        help="A tuner config (e.g. tune-mnist-mlp) or its YAML file; any runnable config with "
        "--space; optional with --resume.",
        autocompletion=complete_config,
        show_default=False,
    ),
]
Epochs = Annotated[
    int | None, typer.Option("--epochs", help="Override train.epochs (of every run of a sweep, every trial).")
]
BatchSize = Annotated[int | None, typer.Option("--batch-size", help="Override train.batch_size.")]
Seed = Annotated[
    int | None, typer.Option("--seed", help="Override seed (Python, NumPy, backend; tuner and trials).")
]
Sets = Annotated[list[str], typer.Option("--set", metavar="KEY=VALUE", help=SET_HELP)]
Smoke = Annotated[
    bool,
    typer.Option(
        "--smoke",
        help="Offline check in seconds: synthetic data of the real shapes, few samples, 1 epoch "
        "unless --epochs says otherwise (a search: 2 trials).",
    ),
]
MaxWallTime = Annotated[
    str | None,
    typer.Option(
        "--max-wall-time",
        metavar="DURATION",
        help="Stop after the epoch that crosses this wall time (seconds, or 90s, 30m, 2h); "
        "the run still completes (stopped_early: time_limit).",
    ),
]
Strategy = Annotated[
    str | None,
    typer.Option(
        "--strategy",
        metavar="default|mirrored",
        help="Override train.strategy: mirrored trains on every visible GPU (batch size stays global).",
    ),
]
Precision = Annotated[
    str | None,
    typer.Option(
        "--precision",
        metavar="float32|mixed_float16|mixed_bfloat16",
        help="Override train.precision (Keras dtype policy; mixed_float16 needs a GPU).",
    ),
]
Jit = Annotated[
    str | None, typer.Option("--jit", metavar="auto|true|false", help="Override train.jit_compile (XLA).")
]
Backend = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="tensorflow|jax|torch|auto",
        help="Keras backend (overrides train.backend, default tensorflow); auto: the fastest "
        "installed backend for this model family, from dlab's measured speed table.",
    ),
]
MaxTrials = Annotated[
    int | None,
    typer.Option(
        "--max-trials", min=1, help="Override model.max_trials (raise it to extend a search with --resume)."
    ),
]

Space = Annotated[
    list[str],
    typer.Option(
        "--space",
        metavar="KEY=SPEC",
        help="Tune this key of a runnable config (repeatable); SPEC: int:MIN..MAX[:STEP], "
        "float:MIN..MAX, log:MIN..MAX, choice:A,B,C or bool. Writes the tuner config for you.",
    ),
]
Algorithm = Annotated[
    str | None,
    typer.Option(
        "--algorithm", metavar="random_search|hyperband|bayesian", help="The search algorithm (with --space)."
    ),
]
Objective = Annotated[
    str | None,
    typer.Option(
        "--objective",
        metavar="METRIC",
        help="The history metric to optimize, e.g. val_accuracy (with --space; default val_loss).",
    ),
]

# --------------------------------------------------------------------------- where it goes

Out = Annotated[
    str,
    typer.Option(
        "--out",
        metavar="DIR",
        help="Outputs root: a run goes to DIR/<config>/<time>-<id>/ (a sweep's summary to DIR/sweeps/).",
    ),
]
NoSave = Annotated[bool, typer.Option("--no-save", help="Do not write model.keras.")]
Resume = Annotated[
    str | None,
    typer.Option(
        "--resume",
        metavar="RUN_DIR",
        help="Continue this interrupted or failed run from its last complete epoch (same "
        "config required; Keras runs trained by one model.fit).",
    ),
]
Fresh = Annotated[
    bool, typer.Option("--fresh", help="Start a new run directory (the default; not with --resume).")
]
ResultFile = Annotated[
    str | None,
    typer.Option(
        "--result-file",
        metavar="FILE",
        hidden=True,  # a sweep's: where its member names its run directory
        help="Once the run directory exists, name it in this JSON file.",
    ),
]
SearchResume = Annotated[
    str | None,
    typer.Option(
        "--resume",
        metavar="RUN_DIR",
        help="Continue the search of this run directory (in a new run directory); refused if the "
        "search space changed.",
    ),
]

# --------------------------------------------------------------------------- how it reports

Device = Annotated[str, typer.Option("--device", metavar="auto|cpu|gpu", help=DEVICE_HELP)]
Debug = Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)]
Verbose = Annotated[
    int | None,
    typer.Option(
        "--verbose",
        "-v",
        metavar="0|1|2",
        help="Keras's verbose: 0 silent, 1 progress bar, 2 one line per epoch. Default: 1 on a "
        "terminal, 2 in a pipe or a log (CI), so logs hold no progress-bar redraws.",
    ),
]
Quiet = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Print only the final summary lines (run.log still has everything)."),
]
TensorBoard = Annotated[
    bool,
    typer.Option(
        "--tensorboard",
        help="Write TensorBoard event files into the run directory's tensorboard/ "
        "(train.tensorboard: true); see them with `dlab tensorboard PATH`.",
    ),
]
MLflow = Annotated[
    bool,
    typer.Option(
        "--mlflow",
        help="Log the run to MLflow: params, per-epoch metrics, tags, artifacts (the mlflow extra).",
    ),
]
MLflowUri = Annotated[str | None, typer.Option("--mlflow-uri", metavar="URI", help=MLFLOW_URI_HELP)]
Register = Annotated[
    str | None,
    typer.Option(
        "--register",
        metavar="NAME",
        help="With --mlflow: make the run's model (an MLflow model) a version of registered model NAME.",
    ),
]
Profile = Annotated[
    bool,
    typer.Option(
        "--profile",
        help="Print where the run's time went (process start, config, backend, data, build, fit, "
        "evaluate, figures, save); metrics.json keeps it as `stages` either way.",
    ),
]
Tags = Annotated[
    list[str],
    typer.Option(
        "--tag",
        metavar="KEY=VALUE",
        help="Label the run (repeatable; every run of a sweep, the search of a tune): in "
        "metrics.json, `dlab runs --tag`, the report and MLflow. Change later with `dlab tag`.",
    ),
]
Note = Annotated[
    str | None, typer.Option("--note", metavar="TEXT", help="A free-text note kept with the run.")
]

# --------------------------------------------------------------------------- many runs: sweep

Targets = Annotated[
    list[str],
    typer.Argument(
        metavar="STUDY|CONFIG|GLOB...",
        help="One study (configs/studies: a name or file), or configs: names, YAML files, globs "
        "('*' for every config, 'mnist-*', 'my-configs/*.yaml').",
        autocompletion=complete_sweep_target,
        show_default=False,
    ),
]
Grid = Annotated[
    list[str],
    typer.Option(
        "--grid",
        metavar="KEY=V1,V2",
        help="Run every combination of these values (repeatable), e.g. "
        "--grid train.optimizer.learning_rate=0.01,0.1 --grid model.hidden=[3],[3,3].",
    ),
]
Seeds = Annotated[
    str | None,
    typer.Option(
        "--seeds",
        metavar="N|S1,S2",
        help="Run each member with seeds 1..N (or these seeds); the summary adds mean, std and a "
        "95% interval per metric.",
    ),
]
Jobs = Annotated[
    int,
    typer.Option(
        "--jobs",
        "-j",
        help="Runs at a time, each in its own process with its share of the CPU threads and, "
        "where there are GPUs, one GPU.",
    ),
]
FailFast = Annotated[
    bool, typer.Option("--fail-fast", help="Stop at the first failed run (the others are interrupted).")
]
Executor = Annotated[
    str,
    typer.Option(
        "--executor",
        metavar="local|ray",
        help="Where the runs go: local (this machine), or ray (sweep: one Ray task per run; tune: "
        "this process serves as the chief and --workers Ray tasks train). pip install 'dlab[ray]'.",
    ),
]
Address = Annotated[
    str | None,
    typer.Option(
        "--address",
        metavar="auto|HOST:PORT",
        help="With --executor ray: the cluster to join (default: local Ray).",
    ),
]
CpusPerRun = Annotated[float, typer.Option("--cpus-per-run", help="Ray: CPUs each run reserves.")]
GpusPerRun = Annotated[
    float, typer.Option("--gpus-per-run", help="Ray: GPUs each run reserves (never shared).")
]
SharedFs = Annotated[
    bool, typer.Option("--shared-fs", help="Ray: every node sees --out, so runs write there (no copy back).")
]

# --------------------------------------------------------------------------- a search: tune

Chief = Annotated[
    bool, typer.Option("--chief", help="Serve the search to workers (keras-tuner's chief) and wait for them.")
]
Port = Annotated[int | None, typer.Option("--port", help="The chief's port (default 8000).")]
Bind = Annotated[
    str,
    typer.Option("--bind", metavar="HOST", help="The chief listens here (127.0.0.1: this machine only)."),
]
Worker = Annotated[
    str | None,
    typer.Option(
        "--worker", metavar="ID", help="Run trials for a chief as worker ID (needs --chief-address)."
    ),
]
ChiefAddress = Annotated[
    str | None,
    typer.Option("--chief-address", metavar="HOST:PORT", help="Where the chief listens (workers)."),
]
ConnectTimeout = Annotated[
    float,
    typer.Option(
        "--connect-timeout",
        metavar="SECONDS",
        help="How long a worker waits for a silent chief (at start-up and during the search).",
    ),
]
WorkerTimeout = Annotated[
    float | None,
    typer.Option(
        "--worker-timeout",
        metavar="SECONDS",
        help="How long the chief waits for a silent worker before its trial goes to another "
        "worker (or fails when none is left); default 60.",
    ),
]
SharedDir = Annotated[
    str | None,
    typer.Option(
        "--shared-dir",
        metavar="DIR",
        help="A folder the chief and every worker see (same path): workers keep their "
        "checkpoints there and the chief takes the best one instead of retraining it.",
    ),
]
Workers = Annotated[int, typer.Option("--workers", help="With --executor ray: keras-tuner workers to start.")]


@dataclass(frozen=True)
class Param:
    """One option of a command: the API keyword it reaches (``no_save`` excepted: it reaches
    the API as ``save_model``), its Typer declaration and its default (``REQUIRED``: none)."""

    name: str
    annotation: Any
    default: Any = None


REQUIRED = inspect.Parameter.empty

OVERRIDES = (
    Param("epochs", Epochs),
    Param("batch_size", BatchSize),
    Param("seed", Seed),
    Param("sets", Sets, []),
    Param("smoke", Smoke, False),
    Param("max_wall_time", MaxWallTime),
    Param("strategy", Strategy),
    Param("precision", Precision),
    Param("jit", Jit),
    Param("backend", Backend),
)
"""What a run changes in its config: run, show, sweep (not ``--seed``: it has ``--seeds``), tune."""
OUTPUT = (Param("out", Out, "outputs"), Param("no_save", NoSave, False), Param("device", Device, "auto"))
REPORTING = (
    Param("verbose", Verbose),
    Param("quiet", Quiet, False),
    Param("tensorboard", TensorBoard, False),
    Param("mlflow", MLflow, False),
    Param("mlflow_uri", MLflowUri),
    Param("profile", Profile, False),
    Param("tags", Tags, []),
    Param("note", Note),
    Param("debug", Debug, False),
)
RAY = (
    Param("address", Address),
    Param("cpus_per_run", CpusPerRun, 1),
    Param("gpus_per_run", GpusPerRun, 0),
    Param("shared_fs", SharedFs, False),
)

SHOW = (Param("config", Config, REQUIRED), *OVERRIDES, Param("debug", Debug, False))
RUN = (
    Param("config", Config, REQUIRED),
    *OVERRIDES,
    *OUTPUT,
    Param("resume", Resume),
    Param("fresh", Fresh, False),
    Param("result_file", ResultFile),
    *REPORTING,
    Param("register", Register),
)
SWEEP = (
    Param("targets", Targets, REQUIRED),
    Param("grid", Grid, []),
    Param("seeds", Seeds),
    Param("jobs", Jobs, 1),
    Param("fail_fast", FailFast, False),
    *(param for param in OVERRIDES if param.name != "seed"),
    *OUTPUT,
    *REPORTING,
    Param("executor", Executor, "local"),
    *RAY,
)
TUNE = (
    Param("config", TunerConfig),
    Param("resume", SearchResume),
    Param("max_trials", MaxTrials),
    Param("space", Space, []),
    Param("algorithm", Algorithm),
    Param("objective", Objective),
    *OVERRIDES,
    *OUTPUT,
    *REPORTING,
    Param("chief", Chief, False),
    Param("port", Port),
    Param("bind", Bind, "127.0.0.1"),
    Param("worker", Worker),
    Param("chief_address", ChiefAddress),
    Param("connect_timeout", ConnectTimeout, 30.0),
    Param("worker_timeout", WorkerTimeout),
    Param("shared_dir", SharedDir),
    Param("executor", Executor, "local"),
    Param("workers", Workers, 2),
    Param("address", Address),
)


def takes(*params: Param) -> Callable[[Callable[[dict[str, Any]], None]], Callable[..., None]]:
    """Give a command these options.

    Typer sees a function with one keyword parameter per option, in this order (a command's
    signature is its option list); the command itself takes one argument, the parsed options as
    API keywords (:func:`api_options`). So every option is declared once, here, and no command
    repeats the list.
    """

    def decorate(command: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
        @functools.wraps(command)
        def parsed(**values: Any) -> None:
            command(api_options(values))

        parameters = [
            inspect.Parameter(
                p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default, annotation=p.annotation
            )
            for p in params
        ]
        parsed.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        parsed.__annotations__ = {p.name: p.annotation for p in params}
        return parsed

    return decorate


def api_options(values: dict[str, Any]) -> dict[str, Any]:
    """Parsed options as the API's keywords: ``--no-save`` is ``save_model=False``, lists are tuples."""
    options = dict(values)
    if "no_save" in options:
        options["save_model"] = not options.pop("no_save")
    return {key: tuple(value) if isinstance(value, list) else value for key, value in options.items()}
