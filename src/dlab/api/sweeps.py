"""Sweeps: many runs as separate processes (``dlab sweep``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlab.errors import UsageError
from dlab.pipeline.steps import EXECUTORS, check_keras_backend
from dlab.runtime.console import resolve_verbose
from dlab.runtime.device import DEVICE_CHOICES
from dlab.scaleout.cluster import import_ray
from dlab.scaleout.processes import stop_signals_interrupt
from dlab.sweep.execute import SweepResult, run_sweep
from dlab.sweep.plan import plan_sweep
from dlab.sweep.ray_backend import run_ray_sweep
from dlab.sweep.request import SweepRequest
from dlab.tracking.session import SweepTracking, mlflow_tracker


def sweep(targets: Sequence[str] | SweepRequest, /, *, progress: Any = None, **options: Any) -> SweepResult:
    """Run many configs (a study, configs/globs, a grid, seeds) in parallel processes.

    Every run is planned and validated first (bad input: nothing runs); each then runs as
    ``dlab run`` in its own process. See :mod:`dlab.sweep`.

    Args:
        targets: one study (name or file), or config names, YAML files and globs; or a whole
            :class:`dlab.sweep.request.SweepRequest` (then no options).
        progress: ``progress(event, info)`` callback, e.g. :class:`dlab.cli.sweep_console.ConsoleProgress`.
        options: the ``dlab sweep`` flags as keywords:

            - ``grid``: ``key=v1,v2`` specs; every combination runs;
            - ``seeds``: a count (seeds 1..N) or a list of seeds; each member runs once per seed;
            - ``jobs``: runs at a time (each with its share of CPU threads and, where there are
              GPUs, one); ``fail_fast``: stop at the first failed run;
            - ``executor``: ``local`` (``jobs`` processes here) or ``ray`` (one Ray task per run,
              see :mod:`dlab.sweep.ray_backend`); ``address``, ``cpus_per_run``, ``gpus_per_run``,
              ``shared_fs``: Ray's;
            - every ``dlab run`` option but ``seed``, ``resume`` and ``fresh``, passed to every
              run (``epochs``, ``sets``, ``smoke``, ``backend``, ``precision``, ``out``, ``device``,
              ``save_model`` ...; see :func:`dlab.api.run`); ``verbose`` is each run's (their
              logs; None: 2, one line per epoch); ``tensorboard``: the sweep also writes HParams
              summaries comparing the members in ``SWEEP/tensorboard``; ``mlflow``, ``mlflow_uri``:
              a parent MLflow run for the sweep, each member nested under it.

    Returns:
        A :class:`dlab.sweep.execute.SweepResult`: the sweep folder, one row per run, and the
        exit code (0 when every run completed, else 1).

    Raises:
        TypeError: an option a sweep does not have.
        UsageError: bad input of any kind, before any run starts.
    """
    if isinstance(targets, SweepRequest):
        if options:
            raise TypeError(f"a SweepRequest comes with no other option: got {', '.join(options)}")
        request = targets
    else:
        request = SweepRequest.from_options(targets, **options)
    check(request)
    reporting = request.run.reporting
    tracker = mlflow_tracker(reporting.mlflow, reporting.mlflow_uri, request.run.output.out)
    plan = plan_sweep(request.targets, grid=request.grid, seeds=request.seeds, request=request.run)
    tracking = (
        SweepTracking(progress, tracker, reporting.tensorboard)
        if (reporting.tensorboard or tracker)
        else None
    )
    try:
        with stop_signals_interrupt():  # SIGTERM / SIGHUP stop the sweep the way Ctrl-C does
            if request.executor == "ray":
                return run_ray_sweep(plan, request, progress=tracking or progress)
            return run_sweep(plan, request, progress=tracking or progress)
    except BaseException:
        if tracking is not None:
            tracking.close("KILLED")  # interrupted: the parent run says so
        raise


def check(request: SweepRequest) -> None:
    """What a sweep can refuse before it plans anything: jobs, executor, Ray, device, verbosity, backend.

    Raises:
        UsageError: the first of them that is wrong.
    """
    if request.jobs < 1:
        raise UsageError(f"--jobs {request.jobs}: the number of parallel runs must be at least 1.")
    if request.executor not in EXECUTORS:
        raise UsageError(f"--executor {request.executor!r}: allowed: local (--jobs N on this machine), ray.")
    if request.run.overrides.backend is not None:
        check_keras_backend(request.run.overrides.backend)  # --backend ray: use --executor ray
    if request.executor == "ray":
        import_ray()  # a missing extra is bad input: say so before planning anything
    if request.run.device not in DEVICE_CHOICES:
        raise UsageError(f"Invalid --device '{request.run.device}'. Allowed: {', '.join(DEVICE_CHOICES)}.")
    if request.run.reporting.verbose is not None:
        resolve_verbose(request.run.reporting.verbose)  # refuse a level Keras does not have
