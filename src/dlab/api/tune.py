"""Searches: ``dlab tune`` as a Python function, local or distributed (a chief, workers, Ray)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from dlab.api.runs import REPORTING_KEYS, Reporting, RunResult, _load_and_prepare, _resolve, _run
from dlab.config import config_names, find_config, load_yaml_chain
from dlab.errors import UsageError
from dlab.framework import registry


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
    reporting = Reporting(**{key: options.pop(key) for key in list(options) if key in REPORTING_KEYS})
    if distributed.get("backend", "local") == "ray":
        return _tune_on_ray(
            config_ref, overrides, resumed, max_trials, distributed, {**options, "reporting": reporting}
        )
    with tuner_environment(role):
        return _run(config_ref, overrides=overrides, resumed_search=resumed, reporting=reporting, **options)


DISTRIBUTED_TUNE_OPTIONS = ("chief", "port", "bind", "worker", "chief_address", "connect_timeout")
DISTRIBUTED_TUNE_OPTIONS += ("backend", "workers", "address", "shared_dir")
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
    from dlab.runtime.start import start as start_runtime
    from dlab.tune.distributed import wait_for_chief, worker_from_flags
    from dlab.tune.worker import run_worker

    role = worker_from_flags(config_ref, distributed, options)
    sets = [*([f"model.max_trials={max_trials}"] if max_trials is not None else []), *sets]
    flags = [options.get(key) for key in ("epochs", "batch_size", "seed")]
    config = _resolve(str(config_ref), *flags, sets, bool(options.get("smoke")))
    if config.experiment != "keras_tuner":
        raise UsageError(f"'{config_ref}' is not a tuner config: workers run keras-tuner searches.")
    experiment = registry.get(config.experiment)()
    connect_timeout = float(distributed.get("connect_timeout") or 30)
    # the chief's process answers from its start: load only once it does, but while it loads
    wait_for_chief(role.host, role.port, connect_timeout)
    runtime = start_runtime(True, options.get("device", "auto"), bool(options.get("debug")))
    data, _, _ = _load_and_prepare(experiment, config, runtime)
    return run_worker(config, experiment.target(config), data, role, connect_timeout)
