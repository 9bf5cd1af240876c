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

from dlab import registry
from dlab.config import (
    RunConfig,
    config_names,
    find_config,
    load_yaml_chain,
    resolve_config,
)
from dlab.errors import DlabError, RunFailed, UsageError
from dlab.experiment import RunContext
from dlab.runs import METRICS_SCHEMA_VERSION, RunDir, check_writable, now_iso

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
        rows.append(ExperimentRow(name, family, str(data.get("data", {}).get("dataset", "")),
                                  first_sentence))
    return rows


def show_config(config_ref: str, *, epochs: int | None = None, batch_size: int | None = None,
                seed: int | None = None, sets: Sequence[str] = (), smoke: bool = False) -> str:
    """The resolved config as YAML, exactly as ``run`` would use and save it."""
    return _resolve(config_ref, epochs, batch_size, seed, sets, smoke).to_yaml()


def _resolve(config_ref: str, epochs: int | None, batch_size: int | None, seed: int | None,
             sets: Sequence[str], smoke: bool) -> RunConfig:
    flags = {"train.epochs": epochs, "train.batch_size": batch_size, "seed": seed}
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

    Returns:
        The run directory and the metrics written to metrics.json.

    Raises:
        UsageError: bad config, flags, data or output folder (nothing was trained).
        Exception: anything raised while training; metrics.json then says "failed"
            and run.log holds the traceback.
    """
    from dlab.runtime import seed_everything
    from dlab.runtime import start as start_runtime

    config = _resolve(config_ref, epochs, batch_size, seed, sets, smoke)
    root = check_writable(Path(out))
    experiment = registry.get(config.experiment)()
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

    run_dir = RunDir.create(root, config.name)
    run_dir.write_config(config.to_yaml())
    ctx = RunContext(config=config, run_dir=run_dir, device=runtime.device, save_model=save_model)
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
    }
    run_dir.write_metrics(metrics)

    started = time.perf_counter()
    with run_dir.capture_console():
        run_dir.append_log("".join(f"[tensorflow] {line}\n" for line in runtime.native_log))
        print(f"dlab: {config.name} (experiment {config.experiment}) on {runtime.device.used} "
              f"[{runtime.device.name}]; data: {config.data.dataset or '-'} from {config.data.source}")
        print(f"dlab: run directory {run_dir.path}")
        try:
            experiment.run(ctx, data, model)
            metrics["status"] = "completed"
        except KeyboardInterrupt:
            metrics["status"] = "interrupted"
            raise
        except BaseException as error:
            metrics["status"] = "failed"
            metrics["error"] = {"type": type(error).__name__, "message": str(error)}
            run_dir.append_log(traceback.format_exc())
            if isinstance(error, DlabError):  # the run directory exists: it is a failed run now
                raise RunFailed(f"{error} (run directory: {run_dir.path})") from error
            raise
        finally:
            metrics.update(ctx.summary)
            metrics["finished_at"] = now_iso()
            metrics["wall_time_s"] = round(time.perf_counter() - started, 3)
            run_dir.write_metrics(metrics)
    return RunResult(run_dir=run_dir.path, metrics=metrics)


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
    from dlab.tune import check_resumable, resuming

    resumed = check_resumable(resume) if resume is not None else None
    if config_ref is None:
        if resumed is None:
            raise UsageError("dlab tune needs a tuner config (e.g. tune-mnist-mlp) or "
                             "--resume RUN_DIR.")
        config_ref = str(resumed / "config.yaml")
    sets = [*([f"model.max_trials={max_trials}"] if max_trials is not None else []), *sets]
    experiment = load_yaml_chain(find_config(config_ref), {}).get("experiment")
    if experiment != "keras_tuner":
        raise UsageError(f"'{config_ref}' is not a tuner config (its experiment is "
                         f"{experiment!r}, not keras_tuner): train it with `dlab run "
                         f"{config_ref}`. Tuner configs: "
                         f"{', '.join(n for n in config_names() if n.startswith('tune-'))}.")
    with resuming(resumed):
        return run(config_ref, sets=sets, **options)
