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
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlab.config import RunConfig, config_names, find_config, load_yaml_chain
from dlab.errors import DlabError, RunFailed, RunInterrupted, UsageError
from dlab.experiment import registry
from dlab.experiment.factory import resolve_config
from dlab.run.context import RunContext
from dlab.run.directory import METRICS_SCHEMA_VERSION, RunDir, check_writable, now_iso

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

    Returns:
        The run directory and the metrics written to metrics.json.

    Raises:
        UsageError: bad config, flags, data or output folder (nothing was trained).
        RunInterrupted: SIGINT/SIGTERM stopped training (metrics.json says "interrupted").
        Exception: anything raised while training; metrics.json then says "failed"
            and run.log holds the traceback.
    """
    from dlab.run.guard import RunGuard
    from dlab.run.resume import check_resume
    from dlab.run.runtime import seed_everything
    from dlab.run.runtime import start as start_runtime

    if resume is not None and fresh:
        raise UsageError(
            "--resume RUN_DIR continues a run and --fresh starts a new one: give only one of them."
        )
    config = _resolve(config_ref, epochs, batch_size, seed, sets, smoke, max_wall_time)
    guard = RunGuard(config.train.max_wall_time)
    experiment = registry.get(config.experiment)()
    point = None
    if resume is not None:
        point = check_resume(resume, config, experiment, command=f"dlab run {config_ref}")
        root = check_writable(point.path)
    else:
        root = check_writable(Path(out))
    runtime = start_runtime(experiment.uses_keras, device, debug)
    try:
        seed_everything(config.seed, runtime)
        data = experiment.load_data(config)
        seed_everything(config.seed, runtime)  # loading data must not shift the initial weights
        model = experiment.prepare(config, data)
    except DlabError:
        raise
    except (ValueError, TypeError) as error:  # e.g. a Keras activation name that does not exist
        raise UsageError(f"{config.name}: this config cannot be built: {error}") from error

    if point is None:
        run_dir = RunDir.create(root, config.name)
        run_dir.write_config(config.to_yaml())
        earlier: dict[str, Any] = {}
    else:
        run_dir = RunDir(point.path)
        earlier = {
            key: point.metrics[key] for key in ("started_at", "resumed", "smoke") if key in point.metrics
        }  # a smoke run resumed from its config.yaml stays one
    ctx = RunContext(
        config=config,
        run_dir=run_dir,
        device=runtime.device,
        save_model=save_model,
        guard=guard,
        history=dict(point.history) if point else {},
        resume=point is not None,
    )
    metrics: dict[str, Any] = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "status": "running",
        "error": None,
        "experiment": config.experiment,
        "config": config.name,
        "config_hash": config.config_hash(),
        "seed": config.seed,
        "smoke": smoke,
        "data": data.describe() if hasattr(data, "describe") else {},
        "started_at": now_iso(),
        "device": runtime.device.to_dict(),
        "backend": runtime.backend,
        "versions": runtime.versions(),
        "run_dir": str(run_dir.path),
        "stopped_early": None,
        **earlier,
    }
    if point is not None:  # every resume, in order: when, and from which finished epoch
        metrics["resumed"] = [*metrics.get("resumed", []), {"at": now_iso(), "from_epoch": point.epoch}]
    run_dir.write_metrics(metrics)

    started = time.perf_counter()
    with run_dir.capture_console(), guard:
        run_dir.append_log("".join(f"[tensorflow] {line}\n" for line in runtime.native_log))
        print(
            f"dlab: {config.name} (experiment {config.experiment}) on {runtime.device.used} "
            f"[{runtime.device.name}]; data: {config.data.dataset or '-'} from {config.data.source}"
        )
        print(f"dlab: run directory {run_dir.path}")
        if point is not None:
            print(f"dlab: resuming after epoch {point.epoch} of {config.train.epochs}")
        try:
            experiment.run(ctx, data, model)
            guard.check_interrupt("the end of the run")  # a signal during the last steps
            metrics["status"] = "completed"
        except KeyboardInterrupt as error:
            metrics["status"] = "interrupted"
            metrics["error"] = {"type": type(error).__name__, "message": str(error) or "interrupted"}
            _record_partial(ctx)
            raise RunInterrupted(
                f"{config.name}: {str(error) or 'interrupted'}. The finished "
                f"epochs are in {run_dir.path}; continue with `dlab run "
                f"{config_ref} --resume {run_dir.path}`.",
                getattr(error, "signal_number", 2),
            ) from None
        except BaseException as error:
            print(flush=True)  # end a progress bar's line before the error message
            metrics["status"] = "failed"
            metrics["error"] = {"type": type(error).__name__, "message": str(error)}
            run_dir.append_log(traceback.format_exc())
            _record_partial(ctx)
            if isinstance(error, DlabError):  # the run directory exists: it is a failed run now
                raise RunFailed(f"{error} (run directory: {run_dir.path})") from error
            raise
        finally:
            metrics.update(ctx.summary)
            metrics["finished_at"] = now_iso()
            metrics["wall_time_s"] = round(time.perf_counter() - started, 3)
            run_dir.write_metrics(metrics)
    return RunResult(run_dir=run_dir.path, metrics=metrics)


def _record_partial(ctx: RunContext) -> None:
    """After an interrupt or a failure: the finished epochs' history, curves and summary.

    Never raises: a plotting error here must not hide why the run stopped.
    """
    if "epochs_run" in ctx.summary:  # the experiment already reported its history
        return
    try:
        from dlab.run.history import record_history

        record_history(ctx, ctx.history)
    except Exception:  # noqa: BLE001 - reported in run.log, the original error wins
        ctx.run_dir.append_log("while writing the partial history:\n" + traceback.format_exc())


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
    if device not in DEVICE_CHOICES:
        raise UsageError(f"Invalid --device '{device}'. Allowed: {', '.join(DEVICE_CHOICES)}.")
    plan = plan_sweep(targets, grid=grid, seeds=seeds, epochs=epochs, sets=sets, smoke=smoke)
    settings = RunSettings(
        out=Path(out), device=device, smoke=smoke, epochs=epochs, sets=tuple(sets), save_model=save_model
    )
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
    from dlab.tune.search import check_resumable, resuming

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
    with resuming(resumed):
        return run(config_ref, sets=sets, **options)


# --------------------------------------------------------------------------- use a trained model
# Each reads a saved run through dlab.use, which starts TensorFlow itself (device, debug).


def predict(
    run_dir: str, inputs: Sequence[str], *, output: str | None = None, top: int = 3, **runtime: Any
) -> Any:
    """``dlab predict``: a saved run's model on raw inputs; see :func:`dlab.use.predict.predict`."""
    from dlab.use.predict import predict as use

    return use(run_dir, list(inputs), output=output, top=top, **runtime)


def generate(run_dir: str, prompt: str, *, length: int = 200, temperature: float | None = None,
             seed: int | None = None, **runtime: Any) -> Any:  # fmt: skip
    """``dlab generate``: continue a prompt with a character language model; see :mod:`dlab.use.generate`."""
    from dlab.use.generate import generate as use

    return use(run_dir, prompt, length=length, temperature=temperature, seed=seed, **runtime)


def neighbours(run_dir: str, words: Sequence[str], *, count: int = 5) -> Any:
    """``dlab neighbours``: nearest words in a CBOW run's vectors (no TensorFlow)."""
    from dlab.use.generate import neighbours as use

    return use(run_dir, list(words), count=count)


def evaluate(run_dir: str, *, sets: Sequence[str] = (), batch_size: int | None = None, **runtime: Any) -> Any:
    """``dlab evaluate``: a run's model on another copy of its data; see :mod:`dlab.use.evaluate`."""
    from dlab.use.evaluate import evaluate as use

    return use(run_dir, sets=list(sets), batch_size=batch_size, **runtime)


def export(run_dir: str, fmt: str, *, output: str | None = None, **runtime: Any) -> Any:
    """``dlab export``: export, reload in its runtime, compare with Keras; see :mod:`dlab.use.export`."""
    from dlab.use.export import export as use

    return use(run_dir, fmt, output=output, **runtime)


def data_info(config_ref: str, *, sets: Sequence[str] = (), smoke: bool = False, plot: str | None = None,
              debug: bool = False) -> dict[str, Any]:  # fmt: skip
    """``dlab data info``: the dataset a config loads, without training; see :mod:`dlab.data.describe`."""
    from dlab.data.describe import describe_to
    from dlab.run.runtime import start

    config = _resolve(config_ref, None, None, None, sets, smoke)
    start(True, "cpu", debug)  # TensorFlow's start-up lines stay out of the report
    return describe_to(config.data, config.seed, plot=plot)


def render_data_info(report: dict[str, Any]) -> str:
    """The report of :func:`data_info` as console text."""
    from dlab.data.describe import render

    return render(report)


def doctor() -> Any:
    """``dlab doctor``: the environment as a list of checks; see :mod:`dlab.doctor`."""
    from dlab.doctor import doctor as use

    return use()
