"""Searches: ``dlab tune`` as a Python function, local or distributed (a chief, workers, Ray)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from dlab.config import config_names, find_config, load_yaml_chain
from dlab.errors import UsageError
from dlab.framework import registry
from dlab.pipeline import steps
from dlab.pipeline.request import RunRequest
from dlab.pipeline.steps import RunResult
from dlab.tune.distributed import chief_from_flags, tuner_environment, wait_for_chief, worker_from_flags
from dlab.tune.from_config import anchored, parse_space, tuner_config, write_tuner_config
from dlab.tune.ray_workers import run_with_ray_workers
from dlab.tune.request import SearchRequest
from dlab.tune.resume import check_resumable, check_same_search, continuing
from dlab.tune.worker import WorkerResult, run_worker


def tune(
    config_ref: str | SearchRequest | None = None,
    /,
    *,
    resume: str | os.PathLike[str] | None = None,
    **options: Any,
) -> RunResult | WorkerResult:
    """Run a keras-tuner search config (``tune-mnist-mlp`` ...), or continue one.

    The search is a run like any other (its run directory also holds trials.csv,
    best-config.yaml and the tuner's own folder); see :mod:`dlab.tune`.

    Args:
        config_ref: a tuner config name or YAML file; with ``resume`` it may be left out
            (the resumed run's config.yaml is used). Or a whole
            :class:`dlab.tune.request.SearchRequest` (then no other argument).
        resume: the run directory of an earlier search to continue in a new run
            directory; refused when the search space or settings differ.
        options: the ``dlab tune`` flags as keywords: ``max_trials`` (``model.max_trials``,
            before ``sets``), every ``dlab run`` option but ``resume`` and ``fresh`` (epochs per
            trial, seed, sets, smoke, backend, out, device ...: see :func:`dlab.api.run`), and the
            distributed search's (:class:`dlab.tune.request.Distribution`): ``chief``, ``port``,
            ``bind``, ``worker_timeout``; ``worker``, ``chief_address``, ``connect_timeout``; ``shared_dir``;
            ``executor`` (``ray``: serve as the chief here, ``workers`` Ray tasks on the cluster at
            ``address``).

    Returns:
        The search's run (a worker: the :class:`dlab.tune.worker.WorkerResult` of its trials).

    Raises:
        TypeError: an option a search does not have.
        UsageError: not a tuner config, nothing to resume, or a changed search.
    """
    if isinstance(config_ref, SearchRequest):
        if options or resume is not None:
            raise TypeError(f"a SearchRequest comes with no other option: got {', '.join(options)}")
        search = config_ref
    else:
        search = SearchRequest.from_options(config_ref, resume, **options)
    if search.distribution.is_worker:
        return _worker(replace(search, run=with_space(search)))
    role = chief_from_flags(search.distribution)  # --chief: keras-tuner serves the oracle
    resumed = check_resumable(search.resume) if search.resume is not None else None
    request = _tuner_request(with_space(search), resumed)
    if resumed is not None:  # before anything is created: the search must be the same one
        check_same_search(steps.resolve(request), resumed)
    if search.distribution.executor == "ray":
        return run_with_ray_workers(replace(search, run=request), lambda: _search(request, resumed))
    with tuner_environment(role):
        return _search(request, resumed)


def _search(request: RunRequest, resumed: Path | None) -> RunResult:
    """The search's run; a resumed search continues the earlier one's trials."""
    with continuing(resumed):
        return steps.run(request)


def _tuner_request(request: RunRequest, resumed: Path | None) -> RunRequest:
    """The search's request, its config named (by the resumed search if need be) and checked to
    be a tuner config.

    Raises:
        UsageError: no config and nothing resumed, or a config that is not a search.
    """
    if not request.config:
        if resumed is None:
            raise UsageError("dlab tune needs a tuner config (e.g. tune-mnist-mlp) or --resume RUN_DIR.")
        request = replace(request, config=str(resumed / "config.yaml"))
    experiment = load_yaml_chain(find_config(request.config), {}).get("experiment")
    if experiment != "keras_tuner":
        raise UsageError(
            f"'{request.config}' is not a tuner config (its experiment is "
            f"{experiment!r}, not keras_tuner): tune it over its own keys with `dlab tune "
            f"{request.config} --space KEY=SPEC` (e.g. --space model.units=choice:32,64), or train "
            f"it with `dlab run {request.config}`. Tuner configs: "
            f"{', '.join(n for n in config_names() if n.startswith('tune-'))}."
        )
    return request


def with_space(search: SearchRequest) -> RunRequest:
    """The search's run request; with ``--space``, its config is the tuner config written for the
    runnable config it names (see :mod:`dlab.tune.from_config`).

    The tuner config is saved under ``OUT/.dlab/searches/`` by its content's hash (a chief and its
    workers, given the same flags, write the same file; a changed search gets a new one), so that
    the run's resume hint and ``dlab tune --resume`` can name it.
    """
    request, flags = search.run, search.flags
    if not flags.space:
        if flags.algorithm or flags.objective:
            raise UsageError("--algorithm and --objective go with --space (a tuner config states its own).")
        return request
    if not request.config:
        raise UsageError(
            "--space needs the config to tune, e.g. dlab tune houses-band --space model.units=..."
        )
    path = find_config(request.config)
    data = load_yaml_chain(path, {})
    data.pop("name", None)
    search_flags = {"algorithm": flags.algorithm, "objective": flags.objective}
    tuned = tuner_config(anchored(data, path.parent), parse_space(flags.space), search_flags)
    folder = Path(request.output.out) / ".dlab" / "searches"
    return replace(request, config=str(write_tuner_config(tuned, folder, f"tune-{path.stem}")))


def _worker(search: SearchRequest) -> WorkerResult:
    """``dlab tune NAME --worker ID --chief-address HOST:PORT``: run the chief's trials, write nothing."""
    distribution, request = search.distribution, search.run
    role = worker_from_flags(request.config, distribution, search.resume)
    config = steps.resolve(request)
    if config.experiment != "keras_tuner":
        raise UsageError(f"'{request.config}' is not a tuner config: workers run keras-tuner searches.")
    experiment = registry.get(config.experiment)()
    connect_timeout = float(distribution.connect_timeout or 30)
    # the chief's process answers from its start: load only once it does, but while it loads
    wait_for_chief(role.host, role.port, connect_timeout)
    runtime = steps.start(experiment, config, request)
    data, _ = steps.load_data(experiment, config, runtime)
    steps.build(experiment, config, data, runtime)  # every end of every range builds, as on the chief
    return run_worker(config, experiment.target(config), data, role, connect_timeout)
