"""``dlab predict``: a saved run's model on raw inputs, as a table, a CSV, or mask PNGs.

Classifiers give the predicted class name, its probability and the top K classes;
regressors the predicted value; segmentation a mask PNG per image (a palette PNG
whose pixel values are the class numbers, named by :mod:`dlab.use.mask_names`); a Jena
forecast the temperature ``horizon_hours`` after the last row of a CSV window.

Where it writes (``-o``, the mask folder) is checked before the model is loaded, and it
writes only new files (:mod:`dlab.use.outputs`).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlab.errors import UsageError
from dlab.fileio import atomic_write_text, atomic_write_with
from dlab.results.index import SavedRun
from dlab.results.tables import text_table
from dlab.use.inputs import Batch, Skipped, read_images, read_table, read_text
from dlab.use.mask_names import mask_names
from dlab.use.outputs import new_file, new_files, writable_folder
from dlab.use.runs import keras_model, open_run, read_run_text, require_task
from dlab.use.runtime import start_keras

TASKS = ("classification", "regression", "segmentation", "forecast")


@dataclass
class Predictions:
    """What ``dlab predict`` found: one row per input (column -> value) and the skipped inputs."""

    run_dir: Path
    task: str
    columns: list[str]
    rows: list[dict[str, Any]]
    skipped: list[Skipped] = field(default_factory=list)
    output: Path | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped else 0

    def table(self, width: int | None = None) -> str:
        """The rows as a console table (wrapped to ``width``, the terminal's by default)."""
        cells = [[str(row.get(column, "")) for column in self.columns] for row in self.rows]
        return text_table(self.columns, cells, width=width)

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return buffer.getvalue()


def probabilities(scores: np.ndarray, output: str) -> np.ndarray:
    """Model outputs as class probabilities (N, classes): softmax/sigmoid of logits, and a single
    sigmoid unit as two columns (not the class, the class)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[-1] == 1:
        positive = 1 / (1 + np.exp(-scores[:, 0])) if output == "logits" else scores[:, 0]
        return np.stack([1 - positive, positive], axis=1)
    if output == "logits":
        shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    return scores


def classify(names: list[str], probs: np.ndarray, class_names: list[str], top: int) -> list[dict]:
    """Rows of input, class, probability and the top ``top`` classes with theirs."""
    labels = class_names or [str(i) for i in range(probs.shape[1])]
    rows = []
    for name, row in zip(names, probs, strict=True):
        order = np.argsort(-row, kind="stable")[:top]
        rows.append(
            {
                "input": name,
                "class": labels[order[0]],
                "probability": round(float(row[order[0]]), 6),
                "top": "; ".join(f"{labels[i]} {row[i]:.4f}" for i in order),
            }
        )
    return rows


def predict(
    run_path: str | Path,
    inputs: list[str],
    *,
    output: str | Path | None = None,
    top: int = 3,
    device: str = "auto",
    debug: bool = False,
) -> Predictions:
    """Predict with a saved run's model on raw inputs (see the module docstring).

    Raises:
        UsageError: not a usable run, ``top`` < 1, no inputs, an input that can never fit.
    """
    if top < 1:
        raise UsageError(f"--top {top}: give how many classes to list, at least 1.")
    if not inputs:
        raise UsageError(
            "dlab predict needs at least one INPUT: image files or folders, text, a CSV or .npz."
        )
    run = open_run(run_path)
    require_task(run, TASKS, "dlab predict", _instead(run))
    spec = run.spec
    kind = spec["input"]
    folder = _check_output(run, output)
    if kind == "text":  # read before TensorFlow starts: a bad vocabulary or input fails at once
        batch = read_text(inputs, spec["text"], _vocabulary(run))
    start_keras(device, debug)
    if kind == "series":
        return _forecast(run, inputs, output)
    if kind == "image":
        batch = read_images(inputs, spec["image"])
    elif kind == "table":
        batch = read_table(inputs, spec["table"]["features"], spec["table"].get("categories"))
    elif kind != "text":
        raise UsageError(f"{run.path}: inference.json's input {kind!r} is not one dlab predict reads.")
    if folder is not None:  # segmentation: every mask gets a new file, or nothing is predicted
        targets = new_files(folder, mask_names(batch.names), f"-o {folder}")
    model = keras_model(run)
    scores = np.asarray(model.predict(batch.x, verbose=0)) if len(batch.names) else np.zeros((0, 1))
    if folder is not None:
        return _masks(run, batch, scores, folder, targets)
    if run.task == "regression":
        rows = [
            {"input": n, "value": round(float(v), 6)} for n, v in zip(batch.names, scores[:, 0], strict=True)
        ]
        columns = ["input", "value"]
    else:
        top = min(top, max(len(run.class_names), 2))
        rows = classify(
            batch.names, probabilities(scores, spec.get("output", "logits")), run.class_names, top
        )
        columns = ["input", "class", "probability", "top"]
    result = Predictions(run.path, run.task, columns, rows, batch.skipped)
    return _write_csv(result, output)


def _check_output(run: SavedRun, output: str | Path | None) -> Path | None:
    """Check where the command will write before anything is read or predicted.

    Returns:
        The mask folder of a segmentation run (``-o`` or ``./masks``); None for a table.

    Raises:
        UsageError: a mask folder that cannot be written, or an ``-o`` that is a folder, an
            existing file or a path in a folder that cannot be written.
    """
    if run.task == "segmentation":
        folder = Path(output).expanduser() if output is not None else Path("masks")
        return writable_folder(folder, f"-o {folder}", "Choose a writable folder for the masks.")
    if output is not None:
        new_file(Path(output).expanduser(), f"-o {output}")
    return None


def _vocabulary(run: SavedRun) -> list[str]:
    """The run's words (line number = word id), read only from inside the run folder."""
    name = run.spec["text"].get("vocabulary")
    if not name:
        return []
    return read_run_text(run, name, "inference.json's text.vocabulary").split("\n")


def _write_csv(result: Predictions, output: str | Path | None) -> Predictions:
    """Write the table to ``output`` (checked to be a new file before anything was predicted).

    Raises:
        UsageError: the file cannot be written after all (the disk filled, the folder went away).
    """
    if output is not None:
        result.output = Path(output).expanduser()
        try:
            atomic_write_text(result.output, result.to_csv())
        except OSError as error:
            raise UsageError(f"-o {output}: cannot write it ({error.strerror or error}).") from None
    return result


def _instead(run: SavedRun) -> str:
    if run.task == "language_model":
        return f"Generate text with `dlab generate {run.path} --prompt ...`."
    if run.task == "embedding":
        return f"List nearest words with `dlab neighbours {run.path} WORD...`."
    return "Only runs of classifiers, regressors, segmentation and forecasts can predict from raw input."


def _masks(run: SavedRun, batch: Batch, scores: np.ndarray, folder: Path, targets: list[Path]) -> Predictions:
    """One palette PNG per image (pixel value = class number) at ``targets``, and a row per image.

    The targets were new files when the command started; one that appeared since (another
    program) is skipped and named rather than overwritten.
    """
    from PIL import Image

    palette = _palette(len(run.class_names) or scores.shape[-1])
    rows, skipped = [], list(batch.skipped)
    for name, score, target in zip(batch.names, scores, targets, strict=True):
        mask = score.argmax(axis=-1).astype(np.uint8)
        if os.path.lexists(target):
            skipped.append(Skipped(name, f"{target} appeared while predicting; dlab does not overwrite it"))
            continue
        image = Image.fromarray(mask, mode="P")
        image.putpalette(palette)
        try:
            atomic_write_with(target, lambda tmp, image=image: image.save(tmp, format="PNG"))
        except OSError as error:
            raise UsageError(f"-o {folder}: cannot write {target} ({error.strerror or error}).") from None
        shares = np.bincount(mask.ravel(), minlength=len(palette) // 3) / mask.size
        labels = run.class_names or [str(i) for i in range(scores.shape[-1])]
        rows.append(
            {
                "input": name,
                "mask": str(target),
                "classes": "; ".join(f"{labels[i]} {shares[i]:.1%}" for i in range(len(labels))),
            }
        )
    return Predictions(run.path, "segmentation", ["input", "mask", "classes"], rows, skipped, folder)


def _palette(classes: int) -> list[int]:
    colours = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48)]
    flat: list[int] = []
    for i in range(max(classes, 1)):
        flat += list(colours[i % len(colours)])
    return flat


def _forecast(run: SavedRun, inputs: list[str], output: str | Path | None) -> Predictions:
    """Each CSV is a window of raw rows: its last ``span + 1`` rows, every ``sampling_rate``th."""
    series = run.spec["series"]
    length, rate = int(series["sequence_length"]), int(series["sampling_rate"])
    needed = rate * (length - 1) + 1
    names, windows, skipped = [], [], []
    mean, std = np.asarray(series["mean"]), np.asarray(series["std"])
    for item in inputs:
        batch = read_table([item], series["columns"])
        skipped += batch.skipped
        if batch.skipped or not len(batch.x):
            continue
        if len(batch.x) < needed:
            skipped.append(
                Skipped(item, f"{len(batch.x)} rows; a window needs {needed} ({length} rows, every {rate}th)")
            )
            continue
        rows = batch.x[len(batch.x) - needed :: rate]
        windows.append(((rows - mean) / std).astype(np.float32))
        names.append(item)
    rows_out = []
    if windows:
        values = np.asarray(keras_model(run).predict(np.stack(windows), verbose=0))[:, 0]
        hours = series["horizon_hours"]
        rows_out = [
            {"input": n, "forecast": round(float(v), 4), "hours_ahead": hours}
            for n, v in zip(names, values, strict=True)
        ]
    result = Predictions(run.path, "forecast", ["input", "forecast", "hours_ahead"], rows_out, skipped)
    return _write_csv(result, output)
