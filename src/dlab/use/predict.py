"""``dlab predict``: a saved run's model on raw inputs, as a table, a CSV, or mask PNGs.

Classifiers give the predicted class name, its probability and the top K classes;
regressors the predicted value; segmentation a mask PNG per image (a palette PNG
whose pixel values are the class numbers); a Jena forecast the temperature
``horizon_hours`` after the last row of a CSV window.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlab.errors import UsageError
from dlab.fileio import atomic_write_text, atomic_write_with
from dlab.results.index import SavedRun
from dlab.results.tables import text_table
from dlab.use.inputs import Batch, Skipped, read_images, read_table, read_text
from dlab.use.runs import keras_model, open_run, require_task
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
    start_keras(device, debug)
    spec = run.spec
    kind = spec["input"]
    if kind == "series":
        return _forecast(run, inputs, output)
    if kind == "image":
        batch = read_images(inputs, spec["image"])
    elif kind == "text":
        batch = read_text(inputs, spec["text"], run.path)
    else:
        batch = read_table(inputs, spec["table"]["features"], spec["table"].get("categories"))
    model = keras_model(run)
    scores = np.asarray(model.predict(batch.x, verbose=0)) if len(batch.names) else np.zeros((0, 1))
    if run.task == "segmentation":
        return _masks(run, batch, scores, output)
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


def _write_csv(result: Predictions, output: str | Path | None) -> Predictions:
    if output is not None:
        result.output = Path(output).expanduser()
        atomic_write_text(result.output, result.to_csv())
    return result


def _instead(run: SavedRun) -> str:
    if run.task == "language_model":
        return f"Generate text with `dlab generate {run.path} --prompt ...`."
    if run.task == "embedding":
        return f"List nearest words with `dlab neighbours {run.path} WORD...`."
    return "Only runs of classifiers, regressors, segmentation and forecasts can predict from raw input."


def _masks(run: SavedRun, batch: Batch, scores: np.ndarray, output: str | Path | None) -> Predictions:
    """One palette PNG per image (pixel value = class number), and a row per image."""
    from PIL import Image

    folder = Path(output).expanduser() if output is not None else Path("masks")
    folder.mkdir(parents=True, exist_ok=True)
    palette = _palette(len(run.class_names) or scores.shape[-1])
    rows = []
    for name, score in zip(batch.names, scores, strict=True):
        mask = score.argmax(axis=-1).astype(np.uint8)
        target = folder / f"{Path(name).stem}-mask.png"
        image = Image.fromarray(mask, mode="P")
        image.putpalette(palette)
        atomic_write_with(target, lambda tmp, image=image: image.save(tmp, format="PNG"))
        shares = np.bincount(mask.ravel(), minlength=len(palette) // 3) / mask.size
        labels = run.class_names or [str(i) for i in range(scores.shape[-1])]
        rows.append(
            {
                "input": name,
                "mask": str(target),
                "classes": "; ".join(f"{labels[i]} {shares[i]:.1%}" for i in range(len(labels))),
            }
        )
    return Predictions(run.path, "segmentation", ["input", "mask", "classes"], rows, batch.skipped, folder)


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
