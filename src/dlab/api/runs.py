"""Runs: ``dlab run``, ``show``, ``list`` and ``tune`` as Python functions.

Every CLI flag is a keyword argument here, so anything the CLI does can be
scripted or tested without a shell::

    from dlab import api
    result = api.run("cnn-cifar10", epochs=2, smoke=True)
    print(result.metrics["test"]["accuracy"])

A run goes: resolve and validate the config -> check the output folder ->
choose the device -> load and check the data -> build the model -> only then
create the run directory and train. Bad input therefore stops before anything
is created or trained.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlab.config import RunConfig
from dlab.errors import DlabError, UsageError
from dlab.framework import registry
from dlab.framework.factory import resolve_config
from dlab.run.directory import RunDir, check_writable, now_iso
from dlab.run.lock import RunLock

DEFAULT_OUTPUTS = "outputs"


@dataclass
class RunResult:
    """The outcome of :func:`run`: where it was written and what metrics.json says."""

    run_dir: Path
    metrics: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.metrics.get("status"))


def show_config(
    config_ref: str,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    sets: Sequence[str] = (),
    smoke: bool = False,
) -> str:
    """The resolved config as YAML, exactly as ``run`` would use and save it."""
    return _resolve(config_ref, epochs, batch_size, seed, sets, smoke).to_yaml()


def _resolve(
    config_ref: str,
    epochs: int | None,
    batch_size: int | None,
    seed: int | None,
    sets: Sequence[str],
    smoke: bool,
    max_wall_time: str | float | None = None,
) -> RunConfig:
    flags = {
        "train.epochs": epochs,
        "train.batch_size": batch_size,
        "seed": seed,
        "train.max_wall_time": max_wall_time,
    }
    return resolve_config(config_ref, flags=flags, sets=list(sets), smoke=smoke)


def run(
    config_ref: str,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    out: str | os.PathLike[str] = DEFAULT_OUTPUTS,
    device: str = "auto",
    sets: Sequence[str] = (),
    smoke: bool = False,
    save_model: bool = True,
    debug: bool = False,
    resume: str | os.PathLike[str] | None = None,
    fresh: bool = False,
    max_wall_time: str | float | None = None,
    backend: str | None = None,
    verbose: int | None = None,
    quiet: bool = False,
    tensorboard: bool = False,
    mlflow: bool = False,
    mlflow_uri: str | None = None,
    strategy: str | None = None,
    precision: str | None = None,
    jit: str | bool | None = None,
) -> RunResult:
    """Run one config and write its run directory.

    Args:
        config_ref: a packaged config name (``cnn-cifar10``) or a YAML file (e.g. a
            run's saved config.yaml).
        epochs, batch_size, seed: named overrides (None: keep the config's value).
        out: the outputs root; the run goes to ``out/<config name>/<time>-<id>/``.
        device: ``auto`` (a GPU when there is one), ``cpu`` or ``gpu``.
        sets: ``key.path=value`` overrides, applied last.
        smoke: synthetic data of the real shapes, few samples, one epoch.
        save_model: write model.keras (``--no-save`` turns it off).
        debug: also print TensorFlow's native start-up log on the console.
        resume: continue this interrupted or failed run directory from its last
            complete epoch (its config must be the same: see :mod:`dlab.run.resume`).
        fresh: start a new run directory (the default; it cannot be combined with ``resume``).
        max_wall_time: seconds (or "30m", "2h"): the epoch that crosses it is the
            last; overrides ``train.max_wall_time``.
        verbose: Keras's ``verbose`` (0, 1 progress bar, 2 a line per epoch); None: 1 on a
            terminal, 2 otherwise (:mod:`dlab.runtime.console`).
        quiet: print nothing while training (run.log still gets everything).
        tensorboard: write TensorBoard event files into ``RUN/tensorboard`` (``train.tensorboard``).
        mlflow: log the finished run to MLflow (any status); the store is checked first.
        mlflow_uri: the tracking URI (else ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``
            beside ``out``).
        backend: the Keras backend (tensorflow, jax, torch or auto); overrides
            ``train.backend`` (see :mod:`dlab.runtime.backend`).
        strategy, precision, jit: override ``train.strategy`` (default|mirrored),
            ``train.precision`` (float32|mixed_float16|mixed_bfloat16) and ``train.jit_compile``
            (auto|true|false); see :mod:`dlab.run.scaling`.

    Returns:
        The run directory and the metrics written to metrics.json.

    Raises:
        UsageError: bad config, flags, data or output folder (nothing was trained).
        RunInterrupted: SIGINT/SIGTERM stopped training (metrics.json says "interrupted").
        Exception: anything raised while training; metrics.json then says "failed"
            and run.log holds the traceback.
    """
    if resume is not None and fresh:
        raise UsageError(
            "--resume RUN_DIR continues a run and --fresh starts a new one: give only one of them."
        )
    if backend is not None:
        from dlab.runtime.backend import check_backend_name

        sets = [*sets, f"train.backend={check_backend_name(backend)}"]
    sets = [*scaling_sets(strategy, precision, jit), *sets]  # named flags come before --set
    return _run(
        config_ref,
        overrides=(epochs, batch_size, seed, sets, smoke, max_wall_time),
        out=out,
        device=device,
        save_model=save_model,
        debug=debug,
        resume=resume,
        reporting=Reporting(verbose, quiet, tensorboard, mlflow, mlflow_uri),
    )


@dataclass
class Reporting:
    """How a run reports while and after it trains: console verbosity, TensorBoard, MLflow."""

    verbose: int | None = None
    quiet: bool = False
    tensorboard: bool = False
    mlflow: bool = False
    mlflow_uri: str | None = None


REPORTING_KEYS = ("verbose", "quiet", "tensorboard", "mlflow", "mlflow_uri")


def scaling_sets(strategy: str | None, precision: str | None, jit: str | bool | None) -> list[str]:
    """``--strategy``, ``--precision`` and ``--jit`` as ``--set`` overrides (None: keep the config's)."""
    named = {"train.strategy": strategy, "train.precision": precision, "train.jit_compile": jit}
    return [f"{key}={str(value).lower()}" for key, value in named.items() if value is not None]


def _run(
    config_ref: str,
    *,
    overrides: tuple[Any, ...],
    out: str | os.PathLike[str] = DEFAULT_OUTPUTS,
    device: str = "auto",
    save_model: bool = True,
    debug: bool = False,
    resume: str | os.PathLike[str] | None = None,
    resumed_search: Path | None = None,
    reporting: Reporting | None = None,
) -> RunResult:
    """:func:`run`, read as resolve, check, start, execute (``resumed_search``: see :func:`tune`)."""
    from dlab.run.context import RunContext
    from dlab.run.guard import RunGuard
    from dlab.run.lifecycle import tracked_run
    from dlab.run.resume import check_resume
    from dlab.run.scaling import scaled
    from dlab.runtime.console import resolve_verbose
    from dlab.runtime.start import start as start_runtime
    from dlab.tracking.session import mlflow_tracker

    reporting = reporting or Reporting()
    verbosity = resolve_verbose(reporting.verbose, reporting.quiet)
    config = _with_tensorboard(_resolve(config_ref, *overrides), reporting.tensorboard, resume)
    tracker = mlflow_tracker(
        reporting.mlflow, reporting.mlflow_uri, out if resume is None else Path(resume).parent.parent
    )
    smoke = overrides[4]
    experiment = registry.get(config.experiment)()
    point = None
    if resume is not None:
        point = check_resume(resume, config, experiment, command=f"dlab run {config_ref}")
    root = check_writable(point.path if point is not None else Path(out))
    runtime = start_runtime(experiment.uses_keras, device, debug, backend=_backend(experiment, config, point))
    data, split_check, model = _load_and_prepare(experiment, config, runtime)

    run_dir = RunDir(point.path) if point is not None else RunDir.create(root, config.name)
    if point is None:
        run_dir.write_config(config.to_yaml())
    ctx = RunContext(
        config=config,
        run_dir=run_dir,
        device=runtime.device,
        save_model=save_model,
        guard=RunGuard(config.train.max_wall_time),
        history=dict(point.history) if point else {},
        resume=point is not None,
        resumed_search=resumed_search,
        verbose=verbosity,
        backup=point.backup if point else None,
    )
    lock = RunLock.acquire(run_dir.path, f"--resume {run_dir.path}")  # held until the run ends
    if runtime.backend != "numpy":
        ctx.record(execution=runtime.execution())
    header = _header(config, smoke, data, runtime, run_dir, point)
    header.data.update(split_check)  # class counts per split (or target summaries), order, layout
    header.process = lock.owner  # pid and host: who holds the run lock while it runs
    epochs, batch_size, seed, sets, smoke, _ = overrides
    overridden = bool(sets or smoke or epochs or batch_size or seed is not None)  # only config.yaml has it
    hint = experiment.resume_hint(config, config_ref, run_dir.path, overridden)
    on_end = tracker.log_run if tracker is not None else None
    with lock, tracked_run(ctx, header, hint, console=not reporting.quiet, on_end=on_end) as metrics:
        run_dir.append_log("".join(f"[tensorflow] {line}\n" for line in runtime.native_log))
        print(
            f"dlab: {config.name} (experiment {config.experiment}) on {runtime.device.used} "
            f"[{runtime.device.name}]; data: {config.data.dataset or '-'} from {config.data.source}"
        )
        print(f"dlab: run directory {run_dir.path}")
        if point is not None:
            done = " (training had finished: evaluating)" if (point.backup or {}).get("complete") else ""
            print(f"dlab: resuming after epoch {point.epoch} of {config.train.epochs}{done}")
        with scaled(runtime.scaling):
            experiment.run(ctx, data, model)
    return RunResult(run_dir=run_dir.path, metrics=metrics)


def _with_tensorboard(config: RunConfig, requested: bool, resume: Any) -> RunConfig:
    """``--tensorboard`` turns ``train.tensorboard`` on; a resumed run continues its event files."""
    from dlab.tracking import tensorboard as tensorboard_files

    if requested or (resume is not None and tensorboard_files.run_log_dir(Path(resume)).is_dir()):
        return tensorboard_files.enable(config)
    return config


def _backend(experiment: Any, config: RunConfig, point: Any) -> Any:
    """The Keras backend of this run (None for NumPy experiments); see :mod:`dlab.runtime.backend`."""
    from dlab.run.resume import resume_backend
    from dlab.runtime.backend import choose_backend

    if not experiment.uses_keras:
        return None
    requested = config.train.backend
    if point is not None:
        requested = resume_backend(point.metrics, requested)
    requires_tensorflow = experiment.requires_tensorflow
    if config.train.strategy != "default":  # tf.distribute: see dlab.run.scaling
        requires_tensorflow = f"train.strategy {config.train.strategy} is tf.distribute"
    return choose_backend(
        requested,
        family=experiment.compute_family,
        requires_tensorflow=requires_tensorflow,
        experiment=config.experiment,
    )


def _load_and_prepare(experiment: Any, config: RunConfig, runtime: Any) -> tuple[Any, dict[str, Any], Any]:
    """Load and check the data and its splits, then build the model: everything that can fail
    before the run exists. Returns the data, the split check's record and the model."""
    from dlab.data.checks.health import check_splits
    from dlab.run.scaling import for_run, scaled
    from dlab.runtime.start import seed_everything

    try:
        seed_everything(config.seed, runtime)
        experiment.check_config(config)
        runtime.scaling = for_run(config.train, runtime.backend, runtime.device)
        data = experiment.load_data(config)
        split_check = check_splits(data, config.data)  # a degenerate split stops here (exit 2)
        seed_everything(config.seed, runtime)  # loading data must not shift the initial weights
        with scaled(runtime.scaling):
            return data, split_check, experiment.prepare(config, data)
    except DlabError:
        raise
    except (ValueError, TypeError) as error:  # e.g. a Keras activation name that does not exist
        raise UsageError(f"{config.name}: this config cannot be built: {error}") from error


def _header(config: RunConfig, smoke: bool, data: Any, runtime: Any, run_dir: Any, point: Any) -> Any:
    """metrics.json's header; a resumed run keeps its first start, its smoke flag and its resumes."""
    from dlab.run.header import MetricsHeader

    header = MetricsHeader(
        experiment=config.experiment,
        config=config.name,
        config_hash=config.config_hash(),
        seed=config.seed,
        smoke=smoke,
        data=data.describe(),
        device=runtime.device.to_dict(),
        backend=runtime.backend,
        versions=runtime.versions(),
        run_dir=str(run_dir.path),
        started_at=now_iso(),
        scaling=runtime.scaling.to_dict() if getattr(runtime, "scaling", None) else None,
    )
    if point is not None:  # a smoke run resumed from its config.yaml stays one
        header.started_at = point.metrics.get("started_at", header.started_at)
        header.smoke = point.metrics.get("smoke", header.smoke)
        header.stopped_early = point.metrics.get("stopped_early")
        header.resumed = [*point.metrics.get("resumed", []), {"at": now_iso(), "from_epoch": point.epoch}]
    return header
