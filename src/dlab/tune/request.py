"""A search as it was asked for (``dlab tune``): the search's own run request, the earlier search
it continues, and how it is spread over processes (a chief, workers, Ray)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from dlab.pipeline.request import RunRequest


@dataclass(frozen=True)
class Distribution:
    """How a search is spread over processes (see :mod:`dlab.tune.distributed`).

    Attributes:
        chief: serve the search to workers (keras-tuner's chief) and wait for them.
        port, bind: where the chief listens (None: 8000; 127.0.0.1: this machine only, the default;
            0.0.0.0: every interface, which serves the search unauthenticated to the network).
        worker, chief_address: run trials for the chief at ``HOST:PORT`` as worker ``ID``.
        connect_timeout: how long a worker waits for a silent chief (seconds): at start-up, and on
            every call and heartbeat during the search (then it leaves, cleaning up).
        worker_timeout: how long a chief waits for a silent worker (seconds) before the worker's
            trial goes to another worker (or fails when none is left); None: 60.
        shared_dir: a folder the chief and every worker see under the same path.
        executor: ``local``, or ``ray``: serve as the chief here and start ``workers`` Ray tasks
            on the cluster at ``address`` (None: a local Ray).
    """

    chief: bool = False
    port: int | None = None
    bind: str = "127.0.0.1"
    worker: str | None = None
    chief_address: str | None = None
    connect_timeout: float = 30.0
    worker_timeout: float | None = None
    shared_dir: str | None = None
    executor: str = "local"
    workers: int = 2
    address: str | None = None

    @property
    def is_worker(self) -> bool:
        return self.worker is not None or self.chief_address is not None


@dataclass(frozen=True)
class SpaceFlags:
    """A search written on the command line over a runnable config (see :mod:`dlab.tune.from_config`).

    Attributes:
        space: ``KEY=SPEC`` entries (``model.units=choice:16,32,64``); empty: the config is a
            tuner config already.
        algorithm: random_search, hyperband or bayesian (None: the tuner's default).
        objective: the history metric to optimize (None: the tuner's default, val_loss).
    """

    space: tuple[str, ...] = ()
    algorithm: str | None = None
    objective: str | None = None


@dataclass(frozen=True)
class SearchRequest:
    """Everything ``dlab tune`` was given.

    Attributes:
        run: the search's run, as ``dlab run`` takes it (``overrides.max_trials``:
            ``--max-trials``); its config is "" when it comes from ``resume``.
        resume: the run directory of an earlier search to continue in a new run directory.
        distribution: chief, workers, Ray.
    """

    run: RunRequest
    resume: str | os.PathLike[str] | None = None
    distribution: Distribution = field(default_factory=Distribution)
    flags: SpaceFlags = field(default_factory=SpaceFlags)

    @classmethod
    def from_options(
        cls, config: str | None = None, resume: str | os.PathLike[str] | None = None, **options: Any
    ) -> SearchRequest:
        """A search from flat options, as ``dlab tune`` and :func:`dlab.api.tune` take them: the
        distribution's, and the ``dlab run`` options of the search (``max_trials`` among them).

        Raises:
            TypeError: an option a search does not have (``fresh``: every search is a new run).
        """
        refused = [name for name in ("fresh", "result_file") if name in options]
        if refused:
            raise TypeError(f"tune() takes no {', '.join(refused)}: a search always starts a new run")
        given = {f.name: options.pop(f.name) for f in fields(Distribution) if f.name in options}
        flags = {f.name: options.pop(f.name) for f in fields(SpaceFlags) if f.name in options}
        flags["space"] = tuple(flags.get("space") or ())
        return cls(
            RunRequest.from_options(config or "", **options),
            resume,
            Distribution(**given),
            SpaceFlags(**flags),
        )
