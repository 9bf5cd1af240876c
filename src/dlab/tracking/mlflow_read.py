"""A run folder read whole, safely, before anything is written to MLflow.

``dlab mlflow-sync`` reads folders that crashed runs, other tools or other people left
behind. It used to read them with ``Path.read_text`` in the middle of logging: a FIFO
named metrics.json hung it forever, and a FIFO named config.yaml hung it after it had
created the MLflow run, which stayed RUNNING; JSON nested 3,000 levels deep ended in a
RecursionError traceback. So every file goes through dlab's guarded readers
(:mod:`dlab.saferead`: regular files only, JSON nesting bounded; YAML through the
bounded loader), all of it is read here, first, and a folder that cannot be read is
refused with the file and the reason before any MLflow run exists.

Files uploaded as artifacts are regular files that are not links: a ``run.log`` link to
``~/.ssh/id_rsa`` must not end up in a shared store.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlab.config.yamlload import load_yaml
from dlab.errors import UsageError
from dlab.fileio import read_json
from dlab.saferead import read_regular_text

ARTIFACTS = (
    "config.yaml",
    "metrics.json",
    "history.csv",
    "summary.txt",
    "run.log",
    "trials.csv",
    "inference.json",
    "vocabulary.txt",
)
"""The run's own files that become artifacts of its MLflow run (when they are regular files)."""
MODEL_FILE = "model.keras"


class UnreadableRun(UsageError):
    """A run folder with a file that exists but cannot be read (the message names both)."""


@dataclass
class RunFolder:
    """Everything MLflow gets from one run folder, read before anything is logged."""

    path: Path
    metrics: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    trials: list[Any] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # ARTIFACTS that are regular files
    plots: list[str] = field(default_factory=list)  # plots/<name>, regular files
    model_file: Path | None = None

    @property
    def config_name(self) -> str:
        return str(self.metrics.get("config") or self.config.get("name") or self.path.parent.name)

    @property
    def identity(self) -> str:
        """The run's identity across logs: ``<config name>/<run folder name>`` (tag ``dlab.run_id``)."""
        return f"{self.config_name}/{self.path.name}"

    @property
    def short_id(self) -> str:
        """The random part of the folder name (``3fa2c1`` of ``20261122-101500-3fa2c1``)."""
        return self.path.name.rsplit("-", 1)[-1] or self.path.name

    @property
    def status(self) -> str:
        return str(self.metrics.get("status"))


def is_regular(path: Path) -> bool:
    """A regular file and not a link (``lstat``): never a FIFO, a device, or a way out of the run."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_run_folder(path: str | os.PathLike[str]) -> RunFolder:
    """Read a run folder for MLflow: metrics.json (required), config.yaml, history.json and
    trials.json (each optional, but unreadable when present is an error), and which files
    can be uploaded.

    Raises:
        UnreadableRun: a file that exists but is not a regular file, not UTF-8, not valid
            JSON/YAML, nested too deeply, or of the wrong kind.
    """
    folder = Path(path).resolve()
    metrics = _json(folder, "metrics.json", dict, required=True)
    run = RunFolder(folder, metrics)
    run.config = _yaml(folder, "config.yaml")
    run.history = _json(folder, "history.json", dict) or {}
    run.trials = _json(folder, "trials.json", list) or []
    _json(folder, "inference.json", dict)  # what predict reads: checked here, uploaded as a file
    run.files = [name for name in ARTIFACTS if is_regular(folder / name)]
    plots = folder / "plots"
    if plots.is_dir() and not plots.is_symlink():
        run.plots = sorted(f"plots/{p.name}" for p in plots.iterdir() if is_regular(p))
    run.model_file = folder / MODEL_FILE if is_regular(folder / MODEL_FILE) else None
    return run


def refuse(folder: Path, problem: str) -> UnreadableRun:
    return UnreadableRun(
        f"{folder}: {problem}, so it was not logged to MLflow. Fix or remove that file (a run "
        "writes it as a regular file), or leave this folder out of the paths."
    )


def _json(folder: Path, name: str, kind: type, *, required: bool = False) -> Any:
    path = folder / name
    if not required and not os.path.lexists(path):
        return None
    data, problem = read_json(path)
    if problem is not None:
        raise refuse(folder, problem)
    if not isinstance(data, kind):
        raise refuse(folder, f"{name} does not hold a JSON {'object' if kind is dict else 'list'}")
    return data


def _yaml(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    if not os.path.lexists(path):
        return {}
    try:
        data = load_yaml(read_regular_text(path), name)
    except OSError as error:
        raise refuse(folder, f"{name} cannot be read ({error.strerror or error})") from None
    except (UnicodeDecodeError, yaml.YAMLError, UsageError) as error:
        why = " ".join(str(error).split())[:300]
        raise refuse(folder, f"{name} cannot be read ({why})") from None
    if not isinstance(data, dict):
        raise refuse(folder, f"{name} does not hold a mapping")
    return data
