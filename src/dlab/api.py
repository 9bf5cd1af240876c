"""The Python API that the CLI wraps: one function per command.

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

from dlab.config import RunConfig, config_names, find_config, load_yaml_chain
from dlab.errors import DlabError, UsageError
from dlab.experiment import registry
from dlab.experiment.factory import resolve_config
from dlab.run.directory import RunDir, check_writable, now_iso

DEFAULT_OUTPUTS = "outputs"


@dataclass
class RunResult:
    """The outcome of :func:`run`: where it was written and what metrics.json says."""

    run_dir: Path
    metrics: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.metrics.get("status"))


@dataclass
class ExperimentRow:
    """One line of ``dlab list``."""

    name: str
    family: str
    dataset: str
    description: str


def list_experiments() -> list[ExperimentRow]:
    """Every packaged config with its family, dataset and one-line description."""
    rows = []
    for name in config_names():
        try:
            data = load_yaml_chain(find_config(name), {})
        except DlabError as error:  # one broken file must not hide the others
            rows.append(ExperimentRow(name, "?", "?", f"(invalid config: {error})"))
            continue
        try:
            family = registry.get(str(data.get("experiment"))).family
        except DlabError:
            family = "?"
        description = " ".join(str(data.get("description", "")).split())
        first_sentence = description.split(". ")[0].rstrip(".")
        rows.append(ExperimentRow(name, family, str(data.get("data", {}).get("dataset", "")), first_sentence))
    return rows


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
    sets = [*scaling_sets(strategy, precision, jit), *sets]  # named flags come before --set
    return _run(
        config_ref,
        overrides=(epochs, batch_size, seed, sets, smoke, max_wall_time),
        out=out,
        device=device,
        save_model=save_model,
        debug=debug,
        resume=resume,
    )


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
) -> RunResult:
    """:func:`run`, read as resolve, check, start, execute (``resumed_search``: see :func:`tune`)."""
    from dlab.run.context import RunContext
    from dlab.run.guard import RunGuard
    from dlab.run.lifecycle import tracked_run
    from dlab.run.resume import check_resume
    from dlab.run.runtime import start as start_runtime
    from dlab.run.scaling import scaled

    config = _resolve(config_ref, *overrides)
    smoke = overrides[4]
    experiment = registry.get(config.experiment)()
    point = None
    if resume is not None:
        point = check_resume(resume, config, experiment, command=f"dlab run {config_ref}")
    root = check_writable(point.path if point is not None else Path(out))
    runtime = start_runtime(experiment.uses_keras, device, debug)
    data, model = _load_and_prepare(experiment, config, runtime)

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
    )
    header = _header(config, smoke, data, runtime, run_dir, point)
    with tracked_run(ctx, header, f"dlab run {config_ref} --resume {run_dir.path}") as metrics:
        run_dir.append_log("".join(f"[tensorflow] {line}\n" for line in runtime.native_log))
        print(
            f"dlab: {config.name} (experiment {config.experiment}) on {runtime.device.used} "
            f"[{runtime.device.name}]; data: {config.data.dataset or '-'} from {config.data.source}"
        )
        print(f"dlab: run directory {run_dir.path}")
        if point is not None:
            print(f"dlab: resuming after epoch {point.epoch} of {config.train.epochs}")
        with scaled(runtime.scaling):
            experiment.run(ctx, data, model)
    return RunResult(run_dir=run_dir.path, metrics=metrics)


def _load_and_prepare(experiment: Any, config: RunConfig, runtime: Any) -> tuple[Any, Any]:
    """Load and check the data, then build the model: everything that can fail before the run exists."""
    from dlab.run.runtime import seed_everything
    from dlab.run.scaling import for_run, scaled

    try:
        seed_everything(config.seed, runtime)
        experiment.check_config(config)
        runtime.scaling = for_run(config.train, runtime.backend, runtime.device)
        data = experiment.load_data(config)
        seed_everything(config.seed, runtime)  # loading data must not shift the initial weights
        with scaled(runtime.scaling):
            return data, experiment.prepare(config, data)
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
        header.resumed = [*point.metrics.get("resumed", []), {"at": now_iso(), "from_epoch": point.epoch}]
    return header


# --------------------------------------------------------------------------- saved runs
# compare / check / runs / report read only what runs wrote; they never start TensorFlow.


def compare(
    paths: Sequence[str],
    *,
    metrics: Sequence[str] = (),
    baseline: str | None = None,
    fail_if: Sequence[str] = (),
    curve: str | None = None,
    curve_output: str | None = None,
) -> Any:
    """Compare saved runs (``dlab compare``); see :func:`dlab.results.compare.compare`.

    Returns:
        A :class:`dlab.results.compare.Comparison`: ``render(fmt)`` gives the table, ``failed_gates``
        the gates that fail (the CLI exits with 1 when there are any).
    """
    from dlab.results.compare import compare as compare_runs

    return compare_runs(
        paths, metrics=metrics, baseline=baseline, fail_if=fail_if, curve=curve, curve_output=curve_output
    )


def check(paths: Sequence[str], *, tolerance: str = "5%", include_smoke: bool = False) -> Any:
    """Check runs against their configs' ``reference:`` values (``dlab check``).

    Returns:
        A :class:`dlab.results.check.CheckReport`; its ``failed`` list is empty when every run
        reproduces its references within the tolerance.
    """
    from dlab.results.check import check_runs

    return check_runs(paths, tolerance=tolerance, include_smoke=include_smoke)


def list_runs(
    out: str | os.PathLike[str] = DEFAULT_OUTPUTS, *, experiment: str | None = None, status: str | None = None
) -> list[Any]:
    """The runs under an outputs root (``dlab runs``), oldest first; see :mod:`dlab.results.runs_table`."""
    from dlab.results.runs_table import list_runs as find

    return find(out, experiment=experiment, status=status)


def check_format(name: str) -> str:
    """An output format name (``table``, ``csv``, ``json``, ``markdown``), checked."""
    from dlab.results.tables import check_format as checked

    return checked(name)


def render_runs(rows: Sequence[Any], fmt: str) -> str:
    """The rows of :func:`list_runs` as text in ``fmt`` (``dlab runs``)."""
    from dlab.results.runs_table import render_runs as render

    return render(rows, fmt)


def report(
    paths: Sequence[str],
    output: str | os.PathLike[str] = "report.html",
    *,
    metrics: Sequence[str] = (),
    title: str | None = None,
) -> Path:
    """Write one self-contained HTML report of runs (``dlab report``) and return its path."""
    from dlab.results.report import write_report

    return write_report(paths, output, metrics=metrics, title=title)


def sweep(
    targets: Sequence[str],
    *,
    grid: Sequence[str] = (),
    seeds: int | str | Sequence[int] | None = None,
    jobs: int = 1,
    fail_fast: bool = False,
    epochs: int | None = None,
    sets: Sequence[str] = (),
    smoke: bool = False,
    out: str | os.PathLike[str] = DEFAULT_OUTPUTS,
    device: str = "auto",
    save_model: bool = True,
    progress: Any = None,
    backend: str = "local",
    address: str | None = None,
    cpus_per_run: float = 1,
    gpus_per_run: float = 0,
    shared_fs: bool = False,
) -> Any:
    """Run many configs (a study, configs/globs, a grid, seeds) in parallel processes.

    Every run is planned and validated first (bad input: nothing runs); each then runs as
    ``dlab run`` in its own process. See :mod:`dlab.sweep`.

    Args:
        targets: one study (name or file), or config names, YAML files and globs.
        grid: ``key=v1,v2`` specs; every combination runs.
        seeds: a count (seeds 1..N) or a list of seeds; each member runs once per seed.
        jobs: runs at a time (each gets its share of CPU threads and, where there are GPUs, one).
        fail_fast: stop at the first failed run.
        epochs, sets, smoke, out, device, save_model: passed to every run, as ``dlab run`` takes them.
        progress: ``progress(event, info)`` callback, e.g. :class:`dlab.cli.sweep_console.ConsoleProgress`.
        backend: ``local`` (``jobs`` processes here) or ``ray`` (one Ray task per run, see
            :mod:`dlab.sweep.ray_backend`); address, cpus_per_run, gpus_per_run, shared_fs: Ray's.

    Returns:
        A :class:`dlab.sweep.SweepResult`: the sweep folder, one row per run, and the
        exit code (0 when every run completed, else 1).

    Raises:
        UsageError: bad input of any kind, before any run starts.
    """
    from dlab.run.device import DEVICE_CHOICES
    from dlab.sweep.execute import RunSettings, run_sweep
    from dlab.sweep.plan import plan_sweep

    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: the number of parallel runs must be at least 1.")
    if backend not in ("local", "ray"):
        raise UsageError(f"--backend {backend!r}: allowed: local (--jobs N on this machine), ray.")
    if backend == "ray":
        from dlab.run.cluster import import_ray

        import_ray()  # a missing extra is bad input: say so before planning anything
    if device not in DEVICE_CHOICES:
        raise UsageError(f"Invalid --device '{device}'. Allowed: {', '.join(DEVICE_CHOICES)}.")
    plan = plan_sweep(targets, grid=grid, seeds=seeds, epochs=epochs, sets=sets, smoke=smoke)
    settings = RunSettings(
        out=Path(out), device=device, smoke=smoke, epochs=epochs, sets=tuple(sets), save_model=save_model
    )
    if backend == "ray":
        from dlab.sweep.ray_backend import RayOptions, run_ray_sweep

        options = RayOptions(address, cpus_per_run, gpus_per_run, shared_fs)
        return run_ray_sweep(plan, settings, options, fail_fast=fail_fast, progress=progress)
    return run_sweep(plan, settings, jobs=jobs, fail_fast=fail_fast, progress=progress)


def tune(
    config_ref: str | None = None,
    *,
    resume: str | os.PathLike[str] | None = None,
    max_trials: int | None = None,
    sets: Sequence[str] = (),
    **options: Any,
) -> RunResult:
    """Run a keras-tuner search config (``tune-mnist-mlp`` ...), or continue one.

    The search is a run like any other (its run directory also holds trials.csv,
    best-config.yaml and the tuner's own folder); see :mod:`dlab.tune`.

    Args:
        config_ref: a tuner config name or YAML file; with ``resume`` it may be left out
            (the resumed run's config.yaml is used).
        resume: the run directory of an earlier search to continue in a new run
            directory; refused when the search space or settings differ.
        max_trials: override ``model.max_trials`` (before ``sets``).
        sets, options: as for :func:`run` (epochs, seed, out, device, smoke ...).

    Raises:
        UsageError: not a tuner config, nothing to resume, or a changed search.
    """
    from dlab.tune.resume import check_resumable, check_same_search

    distributed = {key: options.pop(key) for key in DISTRIBUTED_TUNE_OPTIONS if key in options}
    if distributed.get("worker") is not None or distributed.get("chief_address") is not None:
        return _tune_worker(config_ref, max_trials, sets, distributed, options)  # type: ignore[return-value]
    from dlab.tune.distributed import chief_from_flags, tuner_environment

    role = chief_from_flags(distributed)  # --chief: keras-tuner serves the oracle and waits for workers
    resumed = check_resumable(resume) if resume is not None else None
    if config_ref is None:
        if resumed is None:
            raise UsageError("dlab tune needs a tuner config (e.g. tune-mnist-mlp) or --resume RUN_DIR.")
        config_ref = str(resumed / "config.yaml")
    sets = [*([f"model.max_trials={max_trials}"] if max_trials is not None else []), *sets]
    experiment = load_yaml_chain(find_config(config_ref), {}).get("experiment")
    if experiment != "keras_tuner":
        raise UsageError(
            f"'{config_ref}' is not a tuner config (its experiment is "
            f"{experiment!r}, not keras_tuner): train it with `dlab run "
            f"{config_ref}`. Tuner configs: "
            f"{', '.join(n for n in config_names() if n.startswith('tune-'))}."
        )
    flags = {"epochs": None, "batch_size": None, "seed": None, "smoke": False, "max_wall_time": None}
    flags.update({key: options.pop(key) for key in list(options) if key in flags})
    overrides = (
        flags["epochs"],
        flags["batch_size"],
        flags["seed"],
        sets,
        flags["smoke"],
        flags["max_wall_time"],
    )
    if resumed is not None:  # before anything is created: the search must be the same one
        check_same_search(_resolve(config_ref, *overrides), resumed)
    if distributed.get("backend", "local") == "ray":
        return _tune_on_ray(config_ref, overrides, resumed, max_trials, distributed, options)
    with tuner_environment(role):
        return _run(config_ref, overrides=overrides, resumed_search=resumed, **options)


DISTRIBUTED_TUNE_OPTIONS = ("chief", "port", "bind", "worker", "chief_address", "connect_timeout")
DISTRIBUTED_TUNE_OPTIONS += ("backend", "workers", "address")
""":func:`tune`'s keyword arguments for a distributed search (see :mod:`dlab.tune.distributed`)."""


def _tune_on_ray(config_ref, overrides, resumed, max_trials, distributed, options) -> RunResult:
    """``dlab tune --backend ray --workers N``: serve as the chief here, N workers as Ray tasks."""
    from dlab.tune.ray_workers import run_with_ray_workers

    def run_chief() -> RunResult:
        return _run(config_ref, overrides=overrides, resumed_search=resumed, **options)

    return run_with_ray_workers(config_ref, overrides, distributed, options.get("device", "auto"), run_chief)


def _tune_worker(config_ref, max_trials, sets, distributed, options) -> Any:
    """``dlab tune NAME --worker ID --chief-address HOST:PORT``: run the chief's trials, write nothing.

    Returns:
        A :class:`dlab.tune.worker.WorkerResult` (the trials this worker ran).
    """
    from dlab.run.runtime import start as start_runtime
    from dlab.tune.distributed import wait_for_chief, worker_from_flags
    from dlab.tune.worker import run_worker

    role = worker_from_flags(config_ref, distributed, options)
    sets = [*([f"model.max_trials={max_trials}"] if max_trials is not None else []), *sets]
    flags = [options.get(key) for key in ("epochs", "batch_size", "seed")]
    config = _resolve(str(config_ref), *flags, sets, bool(options.get("smoke")))
    if config.experiment != "keras_tuner":
        raise UsageError(f"'{config_ref}' is not a tuner config: workers run keras-tuner searches.")
    experiment = registry.get(config.experiment)()
    wait_for_chief(role.host, role.port, float(distributed.get("connect_timeout") or 30))
    runtime = start_runtime(True, options.get("device", "auto"), bool(options.get("debug")))
    data, _ = _load_and_prepare(experiment, config, runtime)
    return run_worker(config, experiment.target(config), data, role)
