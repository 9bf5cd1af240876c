"""``dlab data info``: what a config's dataset holds, read exactly as a run would read it, without training.

Every seed report first looked at its data by hand (shapes, dtypes, the class
balance, a few images); this does it for any dataset and source, offline on the
``--smoke`` twins and on real files alike: source and location, split sizes,
shapes and dtypes, value ranges, the class balance per split, missing values for
tables, sequence-length percentiles for text, and a figure
(:func:`dlab.plots.data_info.data_info_figure`).

(Not ``dlab.api.data_info``: a submodule of that name would shadow the function
``dlab.api.data_info`` that the package exports.)

The dataset is read through its contract (:meth:`dlab.data.Dataset.read`): arrays are
described from the arrays, tf.data streams sample by sample from their batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dlab.data import ArrayDataset, Dataset, load_dataset
from dlab.data.modalities.text import decode
from dlab.fileio import atomic_path
from dlab.plots.data_info import data_info_figure

if TYPE_CHECKING:
    from dlab.config import DataConfig

STREAM_LIMIT = 5000
"""Samples read per split of a stream to count its classes (the count says when it stopped)."""

FIGURE_SAMPLES = 20
"""Images in the figure's grid."""

FIGURE_DOCUMENTS = 8
"""Documents (40 words each) in the figure of a text dataset."""

READ_BATCH = 64
"""Samples per batch when a stream is read sample by sample."""


def describe(config: DataConfig, seed: int) -> tuple[dict[str, Any], Dataset]:
    """A report of the dataset ``config`` loads (see the module docstring), and the data itself.

    Raises:
        ConfigError, DataError: as ``dlab run`` would raise them for this data section.
    """
    data = load_dataset(config, seed)
    names = list(getattr(data, "class_names", None) or []) or None
    report: dict[str, Any] = {
        "dataset": config.dataset,
        "source": config.source,
        "location": data.location,
        "validation": data.validation,
        "class_names": names,
        "splits": {},
    }
    report.update(data.read(_SplitReport(names)))
    return report, data


def describe_to(config: DataConfig, seed: int, plot: str | None = None) -> dict[str, Any]:
    """:func:`describe`, and with ``plot`` the figure written there (its path added as ``plot``)."""
    report, data = describe(config, seed)
    if plot is not None:
        target = Path(plot).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        figure = data_info_figure(report, **data.read(_FigureSamples(report.get("class_names") or [])))
        with atomic_path(target) as tmp:
            figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        report["plot"] = str(target)
    return report


def render(report: dict[str, Any]) -> str:
    """The report as text for the console: one block per split."""
    lines = [
        f"dataset:    {report['dataset']} (source {report['source']})",
        f"location:   {report.get('location') or '-'}",
        f"validation: {report.get('validation') or '-'}",
    ]
    if report.get("class_names"):
        names = report["class_names"]
        lines.append(f"classes:    {len(names)}: {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}")
    for split, entry in report["splits"].items():
        lines.append(f"{split}: {entry.get('samples')} samples")
        for part in ("x", "y"):
            if part in entry:
                lines.append(f"  {part}: " + ", ".join(f"{k} {v}" for k, v in entry[part].items()))
        if entry.get("class_balance"):
            total = max(sum(entry["class_balance"].values()), 1)
            shares = [
                f"{name} {count} ({count / total:.0%})" for name, count in entry["class_balance"].items()
            ]
            counted = f" (first {entry['counted']})" if entry.get("counted") else ""
            lines.append(
                f"  classes{counted}: " + ", ".join(shares[:12]) + (" ..." if len(shares) > 12 else "")
            )
    for key, value in (report.get("extra") or {}).items():
        lines.append(f"{key}: {value}")
    return "\n".join(lines) + "\n"


def samples(data: Dataset, split: str, count: int | None = None) -> Any:
    """The first ``count`` (None: all) samples of a streamed split, one (x, y) at a time as NumPy."""
    stream = data.batches(split, min(count or READ_BATCH, READ_BATCH)).unbatch()
    return (stream if count is None else stream.take(count)).as_numpy_iterator()


# --------------------------------------------------------------------------- the report


@dataclass
class _SplitReport:
    """The ``splits`` (and ``extra`` / ``sizes``) part of the report (a SplitReader)."""

    names: list[str] | None

    def arrays(self, data: ArrayDataset) -> dict[str, Any]:
        splits = {"train": (data.x_train, data.y_train), "test": (data.x_test, data.y_test)}
        if data.x_val is not None and data.x_val is not data.x_test:
            splits = {"train": splits["train"], "val": (data.x_val, data.y_val), "test": splits["test"]}
        found: dict[str, Any] = {
            "splits": {split: _split(x, y, self.names) for split, (x, y) in splits.items()}
        }
        extra = {k: v for k, v in (data.extra or {}).items() if not isinstance(v, list) or len(v) <= 40}
        if extra:
            found["extra"] = extra
        return found

    def batches(self, data: Dataset) -> dict[str, Any]:
        sizes = dict(data.sizes)
        return {
            "splits": {
                split: {"samples": size, **_stream_split(data, split, self.names or [])}
                for split, size in sizes.items()
            },
            "sizes": sizes,
        }


def _values(x: np.ndarray) -> dict[str, Any]:
    """Shape, dtype and range of an array of numbers (NaNs counted, not averaged)."""
    entry: dict[str, Any] = {"shape": list(x.shape), "dtype": str(x.dtype)}
    if x.size and np.issubdtype(x.dtype, np.number):
        finite = x[np.isfinite(x)] if np.issubdtype(x.dtype, np.floating) else x
        if finite.size:
            entry.update(
                min=float(finite.min()), max=float(finite.max()), mean=round(float(finite.mean()), 4)
            )
        if np.issubdtype(x.dtype, np.floating):
            entry["missing"] = int(x.size - finite.size)
    return entry


def _lengths(x: np.ndarray) -> dict[str, Any]:
    """A split of word-index lists: its length percentiles, the way a text run sees it."""
    lengths = np.fromiter((len(doc) for doc in x), dtype=np.int64, count=len(x))
    points = (5, 25, 50, 75, 95) if len(lengths) else ()
    return {
        "shape": [len(x)],
        "dtype": "word-index lists",
        "length_percentiles": {f"p{p}": int(np.percentile(lengths, p)) for p in points},
        "max_length": int(lengths.max()) if len(lengths) else 0,
        "largest_index": int(max((max(doc) for doc in x if len(doc)), default=0)),
    }


def _balance(y: np.ndarray, names: list[str] | None) -> dict[str, int] | None:
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] > 1:  # one-hot
        y = y.argmax(axis=-1)
    y = y.reshape(-1)
    if y.size and set(np.unique(y).tolist()) <= {-1, 1}:  # the Playground's labels -1 / +1
        y = (y > 0).astype(np.int64)
    if not names or not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        return None
    counts = np.bincount(y.astype(np.int64), minlength=len(names)) if len(y) else []
    return {names[i] if i < len(names) else str(i): int(c) for i, c in enumerate(counts)}


def _split(x: Any, y: Any, names: list[str] | None) -> dict[str, Any]:
    x = np.asarray(x) if not isinstance(x, np.ndarray) else x
    entry: dict[str, Any] = {"samples": int(len(x))}
    entry["x"] = _lengths(x) if x.dtype == object else _values(x)
    y = np.asarray(y)
    entry["y"] = _values(y)
    balance = _balance(y, names) if y.ndim <= 2 and y.size and len(y) == len(x) else None
    if balance is not None:
        entry["class_balance"] = balance
    return entry


def _stream_split(data: Dataset, split: str, names: list[str]) -> dict[str, Any]:
    labels, shape, dtype, low, high = [], None, None, 255, 0
    for x, y in samples(data, split, STREAM_LIMIT):
        shape, dtype = list(x.shape), str(x.dtype)
        low, high = min(low, int(x.min())), max(high, int(x.max()))
        if np.ndim(y) == 0:
            labels.append(int(y))
    entry: dict[str, Any] = {"x": {"shape": shape, "dtype": dtype, "min": low, "max": high}}
    if labels:
        entry["class_balance"] = _balance(np.asarray(labels), names)
        entry["counted"] = len(labels)
    return entry


# --------------------------------------------------------------------------- the figure


def _labels(y: Any) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] > 1:
        return y.argmax(axis=-1)
    return y.reshape(-1).astype(np.int64)


@dataclass
class _FigureSamples:
    """What :func:`data_info_figure` shows of a dataset (a SplitReader): images, decoded
    documents, or nothing (the class balance is in the report)."""

    names: list[str]

    def arrays(self, data: ArrayDataset) -> dict[str, Any]:
        x = data.x_train
        if x.ndim == 4 and x.dtype == np.uint8:
            y = _labels(data.y_train[:FIGURE_SAMPLES])
            names = self.names or [str(i) for i in range(int(y.max()) + 1)]
            return {"images": x[:FIGURE_SAMPLES], "labels": y, "class_names": names}
        if x.dtype == object:
            documents = [decode(document[:40], data.vocabulary) for document in x[:FIGURE_DOCUMENTS]]
            labels = _labels(data.y_train[:FIGURE_DOCUMENTS])
            return {"documents": documents, "labels": labels, "class_names": self.names}
        return {}

    def batches(self, data: Dataset) -> dict[str, Any]:
        images, labels = [], []
        for x, y in samples(data, "train", FIGURE_SAMPLES):
            images.append(x)
            labels.append(int(y) if np.ndim(y) == 0 else 0)
        names = self.names or ["?"]
        if np.ndim(y) != 0:  # segmentation: the image only
            names = [""]
        return {"images": np.stack(images), "labels": np.asarray(labels), "class_names": names}
