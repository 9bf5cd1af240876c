"""Sweeps: many runs as separate processes (``dlab sweep``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlab.api.runs import DEFAULT_OUTPUTS
from dlab.errors import UsageError


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
    verbose: int | None = None,
    tensorboard: bool = False,
    mlflow: bool = False,
    mlflow_uri: str | None = None,
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
        verbose: Keras's ``verbose`` of every run (their logs; None: 2, one line per epoch).
        tensorboard: every run writes event files; the sweep writes HParams summaries
            comparing the members in ``SWEEP/tensorboard``.
        mlflow, mlflow_uri: a parent MLflow run for the sweep, each member nested under it.
        backend: ``local`` (``jobs`` processes here) or ``ray`` (one Ray task per run, see
            :mod:`dlab.sweep.ray_backend`); address, cpus_per_run, gpus_per_run, shared_fs: Ray's.

    Returns:
        A :class:`dlab.sweep.SweepResult`: the sweep folder, one row per run, and the
        exit code (0 when every run completed, else 1).

    Raises:
        UsageError: bad input of any kind, before any run starts.
    """
    from dlab.runtime.device import DEVICE_CHOICES
    from dlab.sweep.execute import RunSettings, run_sweep
    from dlab.sweep.plan import plan_sweep

    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: the number of parallel runs must be at least 1.")
    if backend not in ("local", "ray"):
        raise UsageError(f"--backend {backend!r}: allowed: local (--jobs N on this machine), ray.")
    if backend == "ray":
        from dlab.scaleout.cluster import import_ray

        import_ray()  # a missing extra is bad input: say so before planning anything
    if device not in DEVICE_CHOICES:
        raise UsageError(f"Invalid --device '{device}'. Allowed: {', '.join(DEVICE_CHOICES)}.")
    from dlab.runtime.console import resolve_verbose
    from dlab.tracking.session import mlflow_tracker

    if verbose is not None:
        resolve_verbose(verbose)  # refuse a level Keras does not have before anything runs
    tracker = mlflow_tracker(mlflow, mlflow_uri, out)
    plan = plan_sweep(targets, grid=grid, seeds=seeds, epochs=epochs, sets=sets, smoke=smoke)
    settings = RunSettings(
        out=Path(out), device=device, smoke=smoke, epochs=epochs, sets=tuple(sets), save_model=save_model
    )
    settings.tensorboard, settings.verbose = tensorboard, verbose
    from dlab.scaleout.processes import stop_signals_interrupt
    from dlab.tracking.session import SweepTracking

    tracking = SweepTracking(progress, tracker, tensorboard) if (tensorboard or tracker) else None
    try:
        with stop_signals_interrupt():  # SIGTERM / SIGHUP stop the sweep the way Ctrl-C does
            if backend == "ray":
                from dlab.sweep.ray_backend import RayOptions, run_ray_sweep

                options = RayOptions(address, cpus_per_run, gpus_per_run, shared_fs)
                return run_ray_sweep(
                    plan, settings, options, fail_fast=fail_fast, progress=tracking or progress
                )
            return run_sweep(plan, settings, jobs=jobs, fail_fast=fail_fast, progress=tracking or progress)
    except BaseException:
        if tracking is not None:
            tracking.close("KILLED")  # interrupted: the parent run says so
        raise
