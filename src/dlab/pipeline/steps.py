"""The steps of one run, in order: resolve -> check -> start -> load data -> build -> train.

Every run goes through these public functions: :func:`dlab.api.run` (:func:`run` does them all),
:func:`dlab.api.tune` (a search is a run; a tuner worker resolves, starts, loads and builds, and
trains for its chief), sweep members (each is ``dlab run`` in its own process, and the sweep plans
them with :func:`resolve`) and the Ray executor (its members name their run directory in the
result file it chose: :func:`dlab.pipeline.request.read_result`).

Everything that can fail as bad input fails before :func:`train` creates the run directory: a
bad flag or key (:func:`resolve`), an output folder, ``--resume`` or MLflow store that will not
do (:func:`check`), the device, backend and scaling (:func:`start`), the data (:func:`load_data`)
and a model that cannot be built on it (:func:`build`). Then :func:`train` writes config.yaml,
runs the experiment under :func:`dlab.run.lifecycle.tracked_run` and returns what metrics.json says.

NumPy is imported inside the steps that start the machine and read data: ``dlab show`` resolves
configs through this module and must not pay for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from dlab.config import RunConfig
from dlab.config.paths import check_named_paths
from dlab.errors import DlabError, UsageError
from dlab.framework import registry
from dlab.framework.base import Experiment
from dlab.framework.factory import resolve_config
from dlab.pipeline.request import FLAG_NAMES, RunRequest, write_result
from dlab.run import provenance
from dlab.run.context import RunContext
from dlab.run.directory import RunDir, check_writable, now_iso
from dlab.run.guard import RunGuard
from dlab.run.header import MetricsHeader
from dlab.run.lifecycle import tracked_run
from dlab.run.lock import RunLock
from dlab.run.resume import ResumePoint, check_resume, resume_backend
from dlab.run.scaling import for_run, scaled
from dlab.run.stages import Stages, since_process_start
from dlab.run.tags import parse_tags
from dlab.runtime.backend import check_backend_name, choose_backend
from dlab.runtime.console import resolve_verbose
from dlab.tracking import tensorboard as tensorboard_files
from dlab.tracking.session import MlflowTracker, mlflow_tracker

NAMED_FLAGS = ("epochs", "batch_size", "seed", "max_wall_time", "strategy", "precision", "jit", "backend")
"""The named overrides a run's provenance records (``--max-trials`` is a search's)."""

EXECUTORS = ("local", "ray")
"""Where a sweep's members or a search's workers run (``--executor``); never a Keras backend."""


@dataclass
class RunResult:
    """The outcome of a run: where it was written and what metrics.json says."""

    run_dir: Path
    metrics: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.metrics.get("status"))


@dataclass
class Checked:
    """What :func:`check` found out before anything starts: the run's experiment, where it goes,
    the run it resumes (if any), its MLflow store and its console verbosity."""

    request: RunRequest
    config: RunConfig
    experiment: Experiment
    root: Path
    point: ResumePoint | None = None
    tracker: MlflowTracker | None = None
    verbose: int = 2


@dataclass
class Prepared:
    """A run that only needs its directory: steps 1 to 5 done."""

    checked: Checked
    runtime: Any
    data: Any
    model: Any
    split_check: dict[str, Any] = field(default_factory=dict)
    stages: Stages = field(default_factory=Stages)  # seconds of the steps so far


# --------------------------------------------------------------------------- 1. resolve


def resolve(request: RunRequest) -> RunConfig:
    """The config as the request resolves it: defaults -> YAML -> ``smoke`` -> named flags -> ``sets``.

    Raises:
        UsageError / ConfigError: an unknown backend, config, key or value (exit 2).
    """
    overrides = request.overrides
    if overrides.backend is not None:
        check_keras_backend(overrides.backend)
    return resolve_config(
        request.config,
        flags=overrides.flags(),
        sets=list(overrides.sets),
        smoke=overrides.smoke,
        flag_names=FLAG_NAMES,
    )


def check_keras_backend(name: str) -> str:
    """``--backend`` checked: a Keras backend. ``local`` and ``ray`` were sweep and tune's executors
    before ``--executor`` took them over; they get a message that says so.

    Raises:
        UsageError: anything but tensorflow, jax, torch or auto.
    """
    if name in EXECUTORS:
        raise UsageError(
            f"--backend {name}: --backend is the Keras backend (tensorflow|jax|torch|auto), on sweep "
            f"and tune as on run; where the runs go is --executor now: use --executor {name}."
        )
    return check_backend_name(name)


# --------------------------------------------------------------------------- 2. check


def check(request: RunRequest, config: RunConfig) -> Checked:
    """Everything about the run's place that can be checked without starting anything: ``resume``
    against ``fresh`` and against the saved run, the outputs folder, the MLflow store.

    Raises:
        UsageError: a refused resume, an unwritable folder, an MLflow store that cannot be used.
    """
    output, reporting = request.output, request.reporting
    verbose = resolve_verbose(reporting.verbose, reporting.quiet)  # a level Keras lacks: exit 2
    check_named_paths(config)  # a missing data.path: exit 2 in a second, not after TensorFlow starts
    parse_tags(reporting.tags)  # a bad --tag: exit 2 before anything starts
    if output.resume is not None and output.fresh:
        raise UsageError(
            "--resume RUN_DIR continues a run and --fresh starts a new one: give only one of them."
        )
    resume = Path(output.resume) if output.resume is not None else None
    if reporting.tensorboard or (resume is not None and tensorboard_files.run_log_dir(resume).is_dir()):
        config = tensorboard_files.enable(config)  # a resumed run continues its event files
    tracker = mlflow_tracker(
        reporting.mlflow,
        reporting.mlflow_uri,
        output.out if resume is None else resume.parent.parent,
        reporting.register,
    )
    experiment = registry.get(config.experiment)()
    point = None
    if resume is not None:  # from here the run's lock is held (see dlab.run.resume)
        point = check_resume(resume, config, experiment, command=f"dlab run {request.config}")
    with _lock_given_back_on_error(point):
        root = check_writable(point.path if point is not None else Path(output.out))
    return Checked(request, config, experiment, root, point, tracker, verbose)


@contextmanager
def _lock_given_back_on_error(point: ResumePoint | None) -> Iterator[None]:
    """Give the resumed run's lock back when a step before training fails (an unwritable folder,
    the device, the data): the run stays as it was, for the next try. Training gives it back
    itself, after the final write."""
    try:
        yield
    except BaseException:
        if point is not None and point.lock is not None:
            point.lock.release()
        raise


# --------------------------------------------------------------------------- 3. start


def start(
    experiment: Experiment, config: RunConfig, request: RunRequest, point: ResumePoint | None = None
) -> Any:
    """Start the machine the run trains on: the device, the Keras backend (imported here) and the
    scaling (strategy, precision, XLA) checked against both. A NumPy experiment starts nothing.

    Returns:
        The :class:`dlab.runtime.start.Runtime`, with ``scaling`` set.

    Raises:
        UsageError: a device, backend or scaling setting this machine or experiment cannot honour.
    """
    from dlab.runtime.start import start as start_runtime  # lazy: imports numpy, not for dlab show

    backend = None
    if experiment.uses_keras:
        requested = config.train.backend
        if point is not None:
            requested = resume_backend(point.metrics, requested)
        requires_tensorflow = experiment.requires_tensorflow
        if config.train.strategy != "default":  # tf.distribute: see dlab.run.scaling
            requires_tensorflow = f"train.strategy {config.train.strategy} is tf.distribute"
        backend = choose_backend(
            requested,
            family=experiment.compute_family,
            requires_tensorflow=requires_tensorflow,
            experiment=config.experiment,
        )
    runtime = start_runtime(experiment.uses_keras, request.device, request.debug, backend=backend)
    with _bad_input(config):
        runtime.scaling = for_run(config.train, runtime.backend, runtime.device)
    return runtime


# --------------------------------------------------------------------------- 4. load data, 5. build


def load_data(experiment: Experiment, config: RunConfig, runtime: Any) -> tuple[Any, dict[str, Any]]:
    """Read and check the data and its splits (a degenerate split stops here, exit 2).

    Returns:
        The data, and the split check's record for metrics.json (class counts per split, order).
    """
    from dlab.data.checks.health import check_splits  # lazy: imports numpy, not for dlab show
    from dlab.runtime.start import seed_everything  # lazy: see start

    with _bad_input(config):
        seed_everything(config.seed, runtime)
        experiment.check_config(config)
        data = experiment.load_data(config)
        return data, check_splits(data, config.data)


def build(experiment: Experiment, config: RunConfig, data: Any, runtime: Any) -> Any:
    """Build the model under the run's scaling and check it against the data (exit 2 if it cannot)."""
    from dlab.runtime.start import seed_everything  # lazy: see start

    with _bad_input(config):
        seed_everything(config.seed, runtime)  # loading data must not shift the initial weights
        with scaled(runtime.scaling):
            return experiment.prepare(config, data)


@contextmanager
def _bad_input(config: RunConfig) -> Iterator[None]:
    """A ValueError or TypeError while checking, loading or building is bad input (exit 2), e.g.
    a Keras activation name that does not exist."""
    try:
        yield
    except DlabError:
        raise
    except (ValueError, TypeError) as error:
        raise UsageError(f"{config.name}: this config cannot be built: {error}") from error


# --------------------------------------------------------------------------- 6. train and write


def train(prepared: Prepared) -> RunResult:
    """Create the run directory (or take the resumed one), then train and evaluate under the run
    lifecycle: metrics.json says ``running``, then completed, interrupted or failed.

    Raises:
        RunInterrupted: SIGINT/SIGTERM stopped training (metrics.json says "interrupted").
        Exception: anything raised while training; metrics.json says "failed", run.log has it.
    """
    checked, runtime = prepared.checked, prepared.runtime
    request, config, point = checked.request, checked.config, checked.point
    run_dir = _run_dir(checked)
    ctx = RunContext(
        config=config,
        run_dir=run_dir,
        device=runtime.device,
        save_model=request.output.save_model,
        guard=RunGuard(config.train.max_wall_time),
        history=dict(point.history) if point else {},
        resume=point is not None,
        verbose=checked.verbose,
        backup=point.backup if point else None,
        stages=prepared.stages,
    )
    lock = point.lock if point is not None else None  # a resume holds it since its check
    if lock is None:
        lock = RunLock.acquire(run_dir.path, f"--resume {run_dir.path}")  # held until the run ends
    if runtime.backend != "numpy":
        ctx.record(execution=runtime.execution())
    header = metrics_header(prepared, run_dir)
    header.process = lock.owner  # pid and host: who holds the run lock while it runs
    hint = partial(  # asked when the run stops: a run with no backup yet has nothing to resume
        checked.experiment.resume_hint, config, request.config, run_dir.path, request.overrides.change_config
    )
    on_end = checked.tracker.log_run if checked.tracker is not None else None
    console = not request.reporting.quiet
    with lock, tracked_run(ctx, header, hint, console=console, on_end=on_end) as metrics:
        _announce(config, runtime, run_dir, point)
        with scaled(runtime.scaling):
            checked.experiment.run(ctx, prepared.data, prepared.model)
        ctx.record(stages=ctx.stages.to_dict())
    return RunResult(run_dir=run_dir.path, metrics=metrics)


def _run_dir(checked: Checked) -> RunDir:
    """A new run directory with config.yaml (or the resumed one), named in the result file."""
    config, point = checked.config, checked.point
    synthetic = config.data.source == "synthetic"
    if point is not None:
        run_dir = RunDir(point.path, synthetic=synthetic)
    else:
        run_dir = RunDir.create(checked.root, config.name, synthetic=synthetic, config=config)
    if checked.request.output.result_file is not None:
        write_result(checked.request.output.result_file, run_dir.path)
    return run_dir


def _announce(config: RunConfig, runtime: Any, run_dir: RunDir, point: ResumePoint | None) -> None:
    print(
        f"dlab: {config.name} (experiment {config.experiment}) on {runtime.device.used} "
        f"[{runtime.device.name}]; data: {config.data.dataset or '-'} from {config.data.source}"
    )
    print(f"dlab: run directory {run_dir.path}")
    if point is not None and point.backup is None:
        print(f"dlab: the run kept no backup: training starts again at epoch 1 of {config.train.epochs}")
    elif point is not None:
        done = " (training had finished: evaluating)" if point.backup.get("complete") else ""
        print(f"dlab: resuming after epoch {point.epoch} of {config.train.epochs}{done}")


def metrics_header(prepared: Prepared, run_dir: RunDir) -> MetricsHeader:
    """metrics.json's header; a resumed run keeps its first start, its smoke flag and its resumes."""
    checked, runtime = prepared.checked, prepared.runtime
    config, point = checked.config, checked.point
    header = MetricsHeader(
        experiment=config.experiment,
        config=config.name,
        config_hash=config.config_hash(),
        seed=config.seed,
        smoke=checked.request.overrides.smoke,
        data=prepared.data.describe(),
        device=runtime.device.to_dict(),
        backend=runtime.backend,
        versions=runtime.versions(),
        run_dir=str(run_dir.path),
        started_at=now_iso(),
        scaling=runtime.scaling.to_dict() if getattr(runtime, "scaling", None) else None,
    )
    header.data.update(prepared.split_check)  # class counts per split (or target summaries), layout
    reporting = checked.request.reporting
    header.tags, header.note = parse_tags(reporting.tags), reporting.note
    header.provenance = run_provenance(checked.request, config, header.data)
    if point is not None:  # a smoke run resumed from its config.yaml stays one
        header.started_at = point.metrics.get("started_at", header.started_at)
        header.smoke = point.metrics.get("smoke", header.smoke)
        header.stopped_early = point.metrics.get("stopped_early")
        header.resumed = [*point.metrics.get("resumed", []), {"at": now_iso(), "from_epoch": point.epoch}]
        header.tags = {**(point.metrics.get("tags") or {}), **header.tags}
        header.note = header.note or point.metrics.get("note")
        header.provenance = point.metrics.get("provenance") or header.provenance  # how it began
    return header


def run_provenance(request: RunRequest, config: RunConfig, data: dict[str, Any]) -> dict[str, Any]:
    """metrics.json's ``provenance``: the command, overrides and flags as given, the config
    files, git state and a hash of the data files read (:mod:`dlab.run.provenance`)."""
    overrides = request.overrides
    flags = {name: getattr(overrides, name) for name in NAMED_FLAGS}
    flags["smoke"] = overrides.smoke or None
    return provenance.collect(
        config_path=config.source_path,
        sets=overrides.sets,
        flags=flags,
        data_paths=[config.data.path, data.get("location")],
        origins=config.key_origins,
        request=["dlab", "run", *replace(request, output=replace(request.output, result_file=None)).argv()],
    )


# --------------------------------------------------------------------------- all of them


def run(request: RunRequest) -> RunResult:
    """One run, every step: resolve, check, start, load data, build, then train and write.

    Raises:
        UsageError / ConfigError: bad input of any kind, before the run directory exists.
        RunInterrupted, Exception: see :func:`train`.
    """
    resolve_verbose(request.reporting.verbose, request.reporting.quiet)  # before anything else
    stages = Stages()
    stages.add("process_start", since_process_start() or 0.0)
    with stages.time("resolve"):
        config = resolve(request)
    with stages.time("check"):
        checked = check(request, config)
    config, experiment = checked.config, checked.experiment
    with _lock_given_back_on_error(checked.point):  # a resume holds its run's lock from check on
        with stages.time("start"):
            runtime = start(experiment, config, request, checked.point)
        with stages.time("load_data"):
            data, split_check = load_data(experiment, config, runtime)
        with stages.time("build"):
            model = build(experiment, config, data, runtime)
        return train(Prepared(checked, runtime, data, model, split_check, stages))
