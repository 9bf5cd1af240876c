"""A sweep in MLflow: one parent run, its members nested under it, whichever way it is logged.

A live ``dlab sweep --mlflow`` and a later ``dlab mlflow-sync`` of the sweep folder must
give the same shape, so both start from the same file: the sweep's summary.json, which
the sweep writes before its first member starts. From it come the parent's experiment
(the study's name, else the sweep's), its name (``SWEEP · <short id>``), tags (``dlab.sweep``,
``dlab.sweep_dir``, ``dlab.sweep_id`` = the folder's name, which finds a parent logged
before), params (``sweep.kind``, ``sweep.members``, ``sweep.seeds``, ``grid.<key>``), and
each member's label: the grid values and seed that tell it apart from the others
(``learning_rate=0.1 seed=2``), which names its run ``CONFIG · LABEL``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlab.fileio import read_json
from dlab.tracking.mlflow_locks import store_lock
from dlab.tracking.mlflow_read import is_regular, refuse
from dlab.tracking.mlflow_runs import log_batches, run_name
from dlab.tracking.mlflow_store import experiment_id

SUMMARY = "summary.json"
SWEEP_ID_TAG = "dlab.sweep_id"
SUMMARY_ARTIFACTS = ("summary.csv", "summary.json", "seeds.csv")


@dataclass
class SweepFolder:
    """A sweep folder's summary: its header (what the sweep is) and one row per member."""

    path: Path
    header: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.header.get("sweep") or self.path.name)

    @property
    def experiment(self) -> str:
        """The study's name when the sweep ran a study, else the sweep's name."""
        study = self.header.get("study")
        return str(study.get("study")) if isinstance(study, dict) and study.get("study") else self.name

    def member_dirs(self) -> dict[Path, int]:
        """Each member's run folder (resolved) -> its row index."""
        found = {}
        for row in self.rows:
            value = row.get("run_dir")
            if not value:
                continue
            path = Path(str(value)).expanduser()
            if not path.is_absolute() and not path.exists():
                path = self.path / path
            found[path.resolve()] = int(row.get("index", len(found)))
        return found


def read_sweep(path: str | os.PathLike[str]) -> SweepFolder | None:
    """The sweep in ``path``, or None when the folder holds no summary.json.

    Raises:
        UnreadableRun: a summary.json that cannot be read or is not a sweep's summary.
    """
    folder = Path(path).resolve()
    if not os.path.lexists(folder / SUMMARY):
        return None
    data, problem = read_json(folder / SUMMARY)
    if problem is not None:
        raise refuse(folder, problem)
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise refuse(folder, f"{SUMMARY} is not a sweep summary (no list of runs)")
    rows = [row for row in data["runs"] if isinstance(row, dict)]
    header = {k: v for k, v in data.items() if k not in ("runs", "seed_statistics", "counts")}
    return SweepFolder(folder, header, rows)


def find_sweeps(paths: Iterable[str | os.PathLike[str]]) -> list[SweepFolder]:
    """Sweep folders given as paths, or below them (``outputs`` holds ``sweeps/<name>``)."""
    found: dict[Path, SweepFolder] = {}
    for raw in paths:
        root = Path(raw).expanduser()
        if not root.is_dir():
            continue
        for folder, subfolders, files in os.walk(root):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d != "plots")
            if SUMMARY in files:
                sweep = read_sweep(folder)
                if sweep is not None:
                    found.setdefault(sweep.path, sweep)
                subfolders[:] = []
    return list(found.values())


def varied_hparams(rows: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per sweep row: the keys the sweep varies (config, each ``--grid``/study key, seed) and values.

    Only keys that take more than one value across the rows count (all of them for a
    one-member sweep): what tells the members apart.
    """
    per_row: dict[int, dict[str, Any]] = {}
    for position, row in enumerate(rows):
        values: dict[str, Any] = {"config": row.get("config")}
        for assignment in row.get("overrides") or []:
            key, _, text = str(assignment).partition("=")
            try:
                values[key] = yaml.safe_load(text)
            except yaml.YAMLError:
                values[key] = text
        if row.get("seed") is not None:
            values["seed"] = row["seed"]
        per_row[int(row.get("index", position))] = values
    keys = {key for values in per_row.values() for key in values}
    varied = {
        key
        for key in keys
        if len({repr(values.get(key)) for values in per_row.values()}) > 1 or len(per_row) == 1
    }
    return {index: {k: v for k, v in values.items() if k in varied} for index, values in per_row.items()}


def member_labels(rows: Sequence[dict[str, Any]]) -> dict[int, str]:
    """Per row index: ``learning_rate=0.1 seed=2`` (the last part of a dotted key when no other
    varied key ends the same); "" when only the config differs."""
    varied = varied_hparams(rows)
    keys = {key for values in varied.values() for key in values if key != "config"}
    short = {key: key.rsplit(".", 1)[-1] for key in keys}
    clashes = {name for name in short.values() if list(short.values()).count(name) > 1}
    labels = {}
    for index, values in varied.items():
        parts = [
            f"{key if short[key] in clashes else short[key]}={_shown(value)}"
            for key, value in values.items()
            if key != "config"
        ]
        labels[index] = " ".join(parts)
    return labels


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def parent_spec(sweep: SweepFolder) -> tuple[str, dict[str, str], dict[str, str]]:
    """The parent run's name, tags and params."""
    short_id = sweep.path.name.rsplit("-", 1)[-1] or sweep.path.name
    tags = {
        "dlab.sweep": sweep.name,
        "dlab.sweep_dir": str(sweep.path),
        SWEEP_ID_TAG: sweep.path.name,
    }
    params = {
        "sweep.kind": str(sweep.header.get("kind")),
        "sweep.members": str(len(sweep.rows)),
        "sweep.seeds": str(sweep.header.get("seeds")),
    }
    grid = sweep.header.get("grid") if isinstance(sweep.header.get("grid"), dict) else {}
    params.update({f"grid.{key}": str(values) for key, values in grid.items()})
    return run_name(sweep.name, short_id), tags, params


def find_parent(client: Any, sweep: SweepFolder) -> Any:
    ids = [e.experiment_id for e in client.search_experiments()]
    if not ids:
        return None
    found = client.search_runs(
        ids, filter_string=f"tags.`{SWEEP_ID_TAG}` = '{sweep.path.name}'", max_results=1
    )
    return found[0] if found else None


def start_parent(client: Any, uri: str, sweep: SweepFolder) -> str:
    """The sweep's parent run (found when it was logged before, else created); returns its id."""
    name, tags, params = parent_spec(sweep)
    with store_lock(uri, f"logging the sweep {sweep.path.name}"):
        existing = find_parent(client, sweep)
        if existing is not None:
            return str(existing.info.run_id)
        experiment = experiment_id(client, sweep.experiment, uri)
        run = client.create_run(experiment, tags={"mlflow.runName": name, **tags})
        log_batches(client, run.info.run_id, params=list(params.items()))
        return str(run.info.run_id)


def sweep_status(sweep: SweepFolder) -> str:
    """FINISHED when every member completed, KILLED when one was interrupted or skipped, else FAILED."""
    statuses = {str(row.get("status")) for row in sweep.rows}
    if statuses <= {"completed"}:
        return "FINISHED"
    if statuses & {"interrupted", "skipped"}:
        return "KILLED"
    return "FAILED"


def finish_parent(client: Any, run_id: str, status: str, sweep_path: Path | None = None) -> None:
    """End a parent run; its summary files become artifacts."""
    if sweep_path is not None:
        for name in SUMMARY_ARTIFACTS:
            if is_regular(sweep_path / name):
                client.log_artifact(run_id, str(sweep_path / name))
    client.set_terminated(run_id, status=status)
