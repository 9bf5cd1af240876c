"""Finding saved runs and reading them back: dlab's one reader of a run directory.

``dlab compare``, ``check``, ``runs`` and ``report`` all start from paths the
user typed: a run directory, its metrics.json, a sweep directory (its
summary.json names the runs) or any folder with runs below it. This module turns
them into :class:`SavedRun` records. A run may be running, failed or cut off
mid-write by a crash, so every field is optional here: a missing or partial
metrics.json, history or config gives empty values, never an exception.

Using a run's model (``dlab predict``, ``evaluate``, ``export`` ...) needs more: a
completed run with its config and, mostly, its model.keras. :meth:`SavedRun.load_strict`
is that strict form; it refuses, with what to do instead, whatever those commands
cannot use (:mod:`dlab.use.runs` adds the typed config and the model).

A metric's name is its dotted path in metrics.json (``test.accuracy``,
``final.val.loss``, ``timing.train_samples_per_s``, ``wall_time_s``); only
numbers count (not booleans, not lists).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from dlab.config.yamlload import load_yaml
from dlab.errors import UsageError
from dlab.fileio import read_json, read_json_object
from dlab.run.header import HEADER_KEYS
from dlab.saferead import read_regular_text

METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.yaml"
MODEL_FILE = "model.keras"
INFERENCE_FILE = "inference.json"
"""What a run keeps for predict (the name :mod:`dlab.framework.inference` writes it under)."""
SWEEP_SUMMARIES = ("summary.json", "summary.csv")


@dataclass
class SavedRun:
    """One run directory read back from disk (or a lone metrics.json)."""

    path: Path  # the run directory
    metrics: dict[str, Any]
    label: str = ""
    problems: list[str] = field(default_factory=list)  # what could not be read

    @property
    def status(self) -> str:
        return str(self.metrics.get("status") or "unknown")

    @property
    def smoke(self) -> bool:
        return bool(self.metrics.get("smoke"))

    @property
    def config_name(self) -> str:
        return str(self.metrics.get("config") or self.path.parent.name)

    @property
    def experiment(self) -> str:
        return str(self.metrics.get("experiment") or "?")

    @property
    def tags(self) -> dict[str, str]:
        """The user's tags (``--tag``, ``dlab tag``); {} when none (or not a mapping)."""
        tags = self.metrics.get("tags")
        return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}

    @property
    def note(self) -> str:
        """The user's note (``--note``), or ""."""
        note = self.metrics.get("note")
        return note if isinstance(note, str) else ""

    @cached_property
    def values(self) -> dict[str, float]:
        """Every numeric metric, by dotted name."""
        return flatten_metrics(self.metrics)

    @cached_property
    def history(self) -> dict[str, list[float]]:
        return read_history(self.path)

    @cached_property
    def config(self) -> dict[str, Any]:
        return read_config(self.path)

    @cached_property
    def spec(self) -> dict[str, Any]:
        """Its inference.json (how raw inputs become model inputs); {} for runs from before it."""
        return read_json_object(self.path / INFERENCE_FILE) or {}

    @property
    def task(self) -> str:
        """What the model predicts (classification, regression, segmentation ...); "" when unknown."""
        return str(self.spec.get("task", ""))

    @property
    def class_names(self) -> list[str]:
        return list(self.spec.get("class_names") or [])

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE

    def plots(self) -> list[Path]:
        """The run's PNG figures, sorted by name."""
        folder = self.path / "plots"
        return sorted(folder.glob("*.png")) if folder.is_dir() else []

    @classmethod
    def load_strict(
        cls, path: str | os.PathLike[str], *, need_model: bool = True, command: str = "dlab predict"
    ) -> SavedRun:
        """A completed run to use (with its model.keras unless ``need_model`` is False).

        ``path`` may also be the run's metrics.json, config.yaml or model.keras.

        Raises:
            UsageError: not a run directory, a failed or unfinished run, or a run saved with
                ``--no-save``; the message starts with ``command`` and says what to use instead.
        """
        folder = Path(path).expanduser()
        if folder.name in (METRICS_FILE, CONFIG_FILE, MODEL_FILE) and folder.is_file():
            folder = folder.parent
        if not folder.is_dir():
            raise UsageError(f"{command}: '{path}' is not a run directory (no such folder).")
        metrics = read_json_object(folder / METRICS_FILE)
        if metrics is None or not (folder / CONFIG_FILE).is_file():
            raise UsageError(
                f"{command}: '{path}' is not a run directory (it needs metrics.json and config.yaml, "
                "as `dlab run` writes them under outputs/<config>/<time>-<id>/)."
            )
        status = metrics.get("status")
        if status != "completed":
            error = metrics.get("error") or {}
            why = f" ({error.get('type')}: {error.get('message')})" if error else ""
            raise UsageError(
                f"{command}: the run {folder} is {status}{why}, so its model is not a finished one. "
                "Use a completed run (`dlab runs --status completed` lists them)."
            )
        if need_model and not (folder / MODEL_FILE).is_file():
            raise UsageError(
                f"{command}: the run {folder} has no model.keras (it was trained with --no-save, or its "
                "experiment saves no Keras model). Train it again without --no-save."
            )
        return cls(path=folder, metrics=metrics, label=default_label(folder))


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric leaves of metrics.json as ``{"test.accuracy": 0.71, ...}``.

    Descriptive top-level fields (data, device, versions, seed ...) are left out:
    they describe the run, they are not results to compare.
    """
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        if not prefix and key in HEADER_KEYS:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if value == value and value not in (float("inf"), float("-inf")):
                flat[name] = value
    return flat


def read_history(run_dir: Path) -> dict[str, list[float]]:
    """Per-epoch metrics from history.json, else history.csv; ``{}`` when neither is readable."""
    data, _ = read_json(run_dir / "history.json")
    if isinstance(data, dict):
        history = {
            key: _numbers(values)
            for key, values in data.items()
            if key != "epoch" and isinstance(values, list)
        }
        if history:
            return history
    try:
        rows = list(csv.DictReader(io.StringIO(read_regular_text(run_dir / "history.csv"), newline="")))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    columns = [c for c in (rows[0].keys() if rows else []) if c and c != "epoch"]
    return {column: _numbers(row.get(column) for row in rows) for column in columns}


def _numbers(values: Iterable[Any]) -> list[float]:
    numbers = []
    for value in values:
        try:
            numbers.append(float(value))
        except (TypeError, ValueError):
            numbers.append(float("nan"))
    return numbers


def read_config(run_dir: Path) -> dict[str, Any]:
    """The run's saved config.yaml as a mapping; ``{}`` when missing or unreadable."""
    try:
        data = load_yaml(read_regular_text(run_dir / CONFIG_FILE), CONFIG_FILE)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, UsageError):  # bombs, repeated keys too
        return {}
    return data if isinstance(data, dict) else {}


def load_run(path: Path) -> SavedRun:
    """Read one run directory (or its metrics.json) however partial it is."""
    run_dir = path.parent if path.is_file() else path
    metrics_path = path if path.is_file() else path / METRICS_FILE
    data, problem = read_json(metrics_path)
    problems = [problem] if problem else []
    if data is not None and not isinstance(data, dict):
        problems.append(f"{metrics_path.name} does not hold a JSON object")
        data = None
    return SavedRun(path=run_dir, metrics=data or {}, label=default_label(run_dir), problems=problems)


def default_label(run_dir: Path) -> str:
    """``<config>/<time>-<id>``: the run's last two path parts, as the outputs tree names it."""
    return f"{run_dir.parent.name}/{run_dir.name}" if run_dir.parent.name else run_dir.name


def is_run_dir(path: Path) -> bool:
    return (path / METRICS_FILE).is_file()


def find_runs(root: Path) -> list[Path]:
    """Every run directory (a folder with a metrics.json) under ``root``, in path order."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d != "plots")
        if METRICS_FILE in files:
            found.append(Path(folder))
            subfolders[:] = []  # a run directory holds no other runs
    return sorted(found)


def sweep_runs(sweep_dir: Path) -> list[tuple[Path, str | None]] | None:
    """The runs a sweep directory names: ``(run_dir, label)`` from summary.json/.csv.

    Returns None when the folder has no readable summary (the caller then looks for
    run directories below it). Rows without a run directory (a run that failed before
    it had one) are skipped. Relative paths are tried from the current folder and from
    the sweep directory.
    """
    rows = _summary_rows(sweep_dir)
    if rows is None:
        return None
    found: list[tuple[Path, str | None]] = []
    for row in rows:
        value = row.get("run_dir")
        if not value:
            continue
        path = Path(str(value)).expanduser()
        if not path.is_absolute() and not path.exists():
            path = sweep_dir / path
        label = row.get("label") or row.get("name")
        found.append((path, str(label) if label else None))
    return found


def _summary_rows(sweep_dir: Path) -> list[dict[str, Any]] | None:
    data, _ = read_json(sweep_dir / "summary.json")
    if isinstance(data, dict):
        data = next(
            (data[key] for key in ("runs", "rows", "members") if isinstance(data.get(key), list)), None
        )
    if isinstance(data, list):
        rows = [row for row in data if isinstance(row, dict)]
        if any("run_dir" in row for row in rows):
            return rows
    try:
        with open(sweep_dir / "summary.csv", encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    return rows if rows and "run_dir" in rows[0] else None


def expand_paths(paths: Sequence[str | os.PathLike[str]], *, what: str = "run") -> list[SavedRun]:
    """Turn the paths a user typed into runs.

    Each path may be a run directory, a metrics.json file, a sweep directory (its
    summary names the runs) or any folder with run directories below it (e.g.
    ``outputs/cnn-cifar10``).

    Raises:
        UsageError: a path that does not exist, or that is not, and does not hold, a run;
            the message says what a run looks like.
    """
    if not paths:
        raise UsageError(
            f"Give at least one {what}: a run directory, its metrics.json, or a sweep directory."
        )
    runs: list[SavedRun] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise UsageError(
                f"'{raw}' does not exist. Give a run directory (outputs/<config>/<time>-<id>), "
                "its metrics.json, or a sweep directory (outputs/sweeps/<name>-<time>-<id>)."
            )
        if path.is_file():
            if path.suffix != ".json":
                raise UsageError(
                    f"'{raw}' is not a run: expected a run directory, a metrics.json file "
                    "or a sweep directory."
                )
            runs.append(_checked(load_run(path), raw))
            continue
        if is_run_dir(path):
            runs.append(load_run(path))
            continue
        members = sweep_runs(path)
        if members is not None:
            for run_dir, label in members:
                if not is_run_dir(run_dir):
                    continue  # listed but never written (the sweep's summary says why)
                run = load_run(run_dir)
                run.label = label or run.label
                runs.append(run)
            if not any(is_run_dir(run_dir) for run_dir, _ in members):
                raise UsageError(
                    f"'{raw}' is a sweep directory, but none of the run directories "
                    "its summary names exists any more."
                )
            continue
        below = find_runs(path)
        if not below:
            raise UsageError(
                f"'{raw}' is not a run: it has no metrics.json, no sweep summary "
                "(summary.json / summary.csv) and no run directories below it. "
                "Give outputs/<config>/<time>-<id> or a sweep directory."
            )
        runs.extend(load_run(run_dir) for run_dir in below)
    return _unique_labels(_deduplicated(runs))


def _checked(run: SavedRun, raw: str | os.PathLike[str]) -> SavedRun:
    if run.problems and not run.metrics:
        raise UsageError(f"'{raw}' is not a run's metrics file: {run.problems[0]}.")
    return run


def _deduplicated(runs: list[SavedRun]) -> list[SavedRun]:
    seen: set[Path] = set()
    unique = []
    for run in runs:
        key = run.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(run)
    return unique


def _unique_labels(runs: list[SavedRun]) -> list[SavedRun]:
    """Make labels unique (two sweeps may label runs alike) by appending the folder id."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.label] = counts.get(run.label, 0) + 1
    for run in runs:
        if counts[run.label] > 1 and run.path.name not in run.label:
            run.label = f"{run.label} ({run.path.name})"
    return runs
