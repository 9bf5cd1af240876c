"""The metrics.json header: what a run directory says about itself, apart from its results.

The run writes it when it starts (status ``running``) and again when it ends;
the results side reads it back (:mod:`dlab.results.index` never offers these
keys as metrics to compare). One typed structure, so the writer and the reader
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

METRICS_SCHEMA_VERSION = 1
"""Bumped when a key of metrics.json changes meaning; readers say which versions they know."""


@dataclass
class MetricsHeader:
    """The descriptive part of metrics.json (results such as ``test`` and ``timing`` follow it).

    Attributes:
        experiment: the registered experiment that ran.
        config: the config name (the outputs folder).
        config_hash: a hash of every setting that changes results.
        seed: the run's seed.
        smoke: True for ``--smoke`` runs (synthetic data).
        data: the data's source and sizes, as the dataset describes itself.
        device: the device the run trained on.
        backend: the Keras backend (``numpy`` for NumPy experiments).
        versions: library versions.
        run_dir: where the run was written.
        started_at: ISO time of the (first) start.
        status: running, completed, failed or interrupted.
        error: type and message of what stopped a failed or interrupted run.
        stopped_early: why training stopped before the last epoch (early_stopping, time_limit).
        finished_at: ISO time of the end (None while running).
        resumed: every ``--resume``: when, and from which finished epoch.
        process: pid and host of the process that holds the run's lock while it trains.
        scaling: strategy, replicas, devices, dtype policy and jit_compile (Keras runs; None for NumPy).
        tags: the user's ``KEY=VALUE`` labels (``--tag``, ``dlab tag``), for filters and trackers.
        note: the user's free-text note (``--note``, ``dlab tag --note``).
        provenance: the command line, overrides, config files, git state and data hashes
            (:mod:`dlab.run.provenance`).
        schema_version: the layout of metrics.json.
    """

    experiment: str
    config: str
    config_hash: str
    seed: int
    smoke: bool
    data: dict[str, Any]
    device: dict[str, Any]
    backend: str
    versions: dict[str, Any]
    run_dir: str
    started_at: str
    status: str = "running"
    error: dict[str, str] | None = None
    stopped_early: str | None = None
    finished_at: str | None = None
    resumed: list[dict[str, Any]] = field(default_factory=list)
    process: dict[str, Any] | None = None
    scaling: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    provenance: dict[str, Any] | None = None
    schema_version: int = METRICS_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The header as metrics.json's first keys (schema version and status first)."""
        data = asdict(self)
        ordered = {"schema_version": data.pop("schema_version"), "status": data.pop("status"), **data}
        # written once there is something to say
        for key in ("resumed", "finished_at", "scaling", "tags", "note", "provenance"):
            if not ordered[key]:
                del ordered[key]
        return ordered


HEADER_KEYS = frozenset(item.name for item in fields(MetricsHeader))
"""Descriptions of the run rather than results: never offered as metrics to compare."""
