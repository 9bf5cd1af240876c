"""TensorBoard curves for runs trained without ``--tensorboard``, from their history.

Every run writes history.csv/json; only runs with ``--tensorboard`` write event files.
``dlab tensorboard`` converts the others so that every run under the served folder has
curves: ``RUN/tensorboard/history/{train,validation}`` with Keras's tags
(``epoch_loss``, ``epoch_accuracy``, ...; a ``val_`` column goes to ``validation``) and
Keras's steps (epoch 1 is step 0). The folder is dlab's: it is written only for a run
without event files of its own, and rewritten only when the history changed since
(``source.json`` records the history's digest), so serving twice writes nothing new.
No TensorFlow is started (see :mod:`dlab.tracking.events`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlab.fileio import read_json
from dlab.saferead import read_regular_text
from dlab.tracking.events import LOG_FOLDER, event_files, scalar, write_events

HISTORY_FOLDER = "history"
"""``RUN/tensorboard/history``: the converted curves (dlab's folder, not Keras's)."""

STAMP = "source.json"
"""In the converted folder: which history it was made from (name and SHA-256)."""

FORMAT = 1
"""Bumped when the conversion changes, so older conversions are rewritten."""

HISTORY_FILES = ("history.json", "history.csv")


@dataclass
class Conversions:
    """What :func:`convert_runs` did: runs written now, runs already up to date, failures."""

    written: list[Path] = field(default_factory=list)
    current: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def convert_runs(path: Path) -> Conversions:
    """Convert the history of every run under ``path`` that has no event files of its own."""
    done = Conversions()
    for run in run_folders(path):
        try:
            outcome = convert_run(run)
        except (OSError, ValueError) as error:  # a read-only folder, a history being rewritten
            done.failed.append((run, f"{type(error).__name__}: {error}"))
            continue
        if outcome == "written":
            done.written.append(run)
        elif outcome == "current":
            done.current.append(run)
    return done


def run_folders(path: Path) -> list[Path]:
    """``path`` itself when it is a run folder, else every run folder below it."""
    path = Path(path)
    if not path.is_dir():
        return []
    if any((path / name).is_file() for name in HISTORY_FILES):
        return [path]
    found = {history.parent for name in HISTORY_FILES for history in path.rglob(name) if history.is_file()}
    return sorted(found)


def converted_folder(run: Path) -> Path:
    return Path(run) / LOG_FOLDER / HISTORY_FOLDER


def staging_folder(run: Path) -> Path:
    """Where a conversion is written before it replaces :func:`converted_folder` at once."""
    return Path(run) / LOG_FOLDER / f".{HISTORY_FOLDER}-writing"


def has_own_events(run: Path) -> bool:
    """Whether the run wrote event files itself (Keras's callback, a search's trials)."""
    ours = {converted_folder(run), staging_folder(run)}
    return any(ours.isdisjoint(file.parents) for file in event_files(Path(run) / LOG_FOLDER))


def convert_run(run: Path) -> str:
    """Write ``RUN/tensorboard/history`` from the run's history when needed.

    Returns:
        ``"written"``, ``"current"`` (converted before from the same history), ``"own"``
        (the run has event files of its own: nothing to do) or ``"empty"`` (no readable
        history, or no finite value in it).

    Raises:
        OSError: the folder cannot be written.
    """
    run = Path(run)
    staging = staging_folder(run)
    shutil.rmtree(staging, ignore_errors=True)  # left by a conversion that was killed
    if has_own_events(run):
        return "own"
    source, raw, history = read_history(run)
    curves = keras_curves(history)
    if source is None or not curves:
        return "empty"
    stamp = {"format": FORMAT, "source": source.name, "sha256": hashlib.sha256(raw).hexdigest()}
    target = converted_folder(run)
    if _stamp_of(target) == stamp and event_files(target):
        return "current"
    wall_time = source.stat().st_mtime
    for split, points in sorted(curves.items()):
        write_events(staging / split, points, wall_time=wall_time)
    (staging / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return "written"


def read_history(run: Path) -> tuple[Path | None, bytes, dict[str, list[tuple[int, Any]]]]:
    """(the file read, its bytes, per column its (step, value) points as written).

    history.json first, else history.csv; steps count from 0 like Keras's epochs.
    """
    for name in HISTORY_FILES:
        source = Path(run) / name
        try:
            text = read_regular_text(source)
        except (OSError, UnicodeDecodeError):
            continue
        columns = _json_columns(source) if name.endswith(".json") else _csv_columns(text)
        if columns:
            return source, text.encode("utf-8"), _with_steps(columns)
    return None, b"", {}


def _json_columns(source: Path) -> dict[str, list[Any]]:
    data, _ = read_json(source)
    if not isinstance(data, dict):
        return {}
    return {str(key): values for key, values in data.items() if isinstance(values, list)}


def _csv_columns(text: str) -> dict[str, list[Any]]:
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error:
        return {}
    names = [name for name in (rows[0].keys() if rows else []) if name]
    return {name: [row.get(name) for row in rows] for name in names}


def _with_steps(columns: dict[str, list[Any]]) -> dict[str, list[tuple[int, Any]]]:
    """Each value with its step: its row's ``epoch`` minus one, else its row number."""
    epochs = [finite(value) for value in columns.get("epoch") or []]
    steps = [
        int(epoch) - 1 if epoch is not None and epoch >= 1 else index for index, epoch in enumerate(epochs)
    ]
    return {
        name: [(steps[index] if index < len(steps) else index, value) for index, value in enumerate(values)]
        for name, values in columns.items()
        if name != "epoch"
    }


def finite(value: Any) -> float | None:
    """``value`` as a float TensorBoard can plot, or None (text, null for a NaN, infinities)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def keras_curves(history: Mapping[str, Iterable[tuple[int, Any]]]) -> dict[str, list[tuple[int, Any]]]:
    """Per split folder, the (step, Summary) points of history columns, the way Keras names them.

    ``val_x`` is ``epoch_x`` in ``validation``, any other ``x`` is ``epoch_x`` in ``train``:
    the tags and folders of Keras's TensorBoard callback, so converted runs, sweep sessions
    and runs trained with ``--tensorboard`` line up in the dashboard. Values that are not
    finite numbers are left out.
    """
    splits: dict[str, list[tuple[int, Any]]] = {}
    for name, series in history.items():
        split, metric = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
        points = splits.setdefault(split, [])
        for step, value in series:
            if (number := finite(value)) is not None:
                points.append((step, scalar(f"epoch_{metric}", number)))
    return {split: sorted(points, key=lambda point: point[0]) for split, points in splits.items() if points}


def _stamp_of(folder: Path) -> dict[str, Any] | None:
    data, _ = read_json(folder / STAMP)
    return data if isinstance(data, dict) else None
