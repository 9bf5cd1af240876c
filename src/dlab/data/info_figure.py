"""The figure of ``dlab data info``: a sample grid for images, sample lines for text, class balance otherwise.

Kept beside :mod:`dlab.data.describe` rather than in :mod:`dlab.plots` (which is
already past the size a module should have); the image grid reuses
:func:`dlab.plots.prediction_grid` with the true labels as the shown ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def info_figure(report: dict[str, Any], data: Any, count: int = 20) -> Any:
    """The right figure for this data: images -> a grid with class names, text -> the first
    documents as lines, anything else -> the class balance per split (or the target's histogram)."""
    from dlab.plots import prediction_grid

    title = f"{report['dataset']} ({report['source']})"
    names = report.get("class_names") or []
    rows = getattr(data, "rows", data)
    if hasattr(data, "splits"):  # streamed images
        images, labels = [], []
        for x, y in data.splits["train"].take(count).as_numpy_iterator():
            images.append(x)
            labels.append(int(y) if np.ndim(y) == 0 else 0)
        labels_array = np.asarray(labels)
        if np.ndim(y) != 0:  # segmentation: the image only
            names = [""]
        return prediction_grid(np.stack(images), labels_array, labels_array, names or ["?"], title=title)
    x = rows.x_train
    if x.ndim == 4 and x.dtype == np.uint8:
        y = _labels(rows.y_train[:count])
        return prediction_grid(
            x[:count], y, y, names or [str(i) for i in range(int(y.max()) + 1)], title=title
        )
    if x.dtype == object:
        vocabulary = getattr(rows, "vocabulary", None)
        return _text_lines(x[:8], _labels(rows.y_train[:8]), names, vocabulary, title)
    return _balance_bars(report, title)


def _labels(y: Any) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] > 1:
        return y.argmax(axis=-1)
    return y.reshape(-1).astype(np.int64)


def _text_lines(documents: Any, labels: np.ndarray, names: list[str], vocabulary: Any, title: str) -> Any:
    from matplotlib.figure import Figure

    from dlab.data.modalities.text import decode

    figure = Figure(figsize=(10, 0.9 * len(documents) + 0.8))
    axes = figure.add_subplot()
    axes.axis("off")
    for row, (document, label) in enumerate(zip(documents, labels, strict=True)):
        words = decode(document[:40], vocabulary)
        text = f"[{names[label] if label < len(names) else label}] {words[:150]}"
        axes.text(0, 1 - (row + 0.5) / len(documents), text, fontsize=8, va="center", family="monospace")
    figure.suptitle(f"{title}: first training documents")
    return figure


def _balance_bars(report: dict[str, Any], title: str) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    splits = {s: e.get("class_balance") for s, e in report["splits"].items() if e.get("class_balance")}
    if not splits:  # regression or a series: no classes; the training target's range instead
        axes.text(0.5, 0.5, "no classes: see the value ranges in the report", ha="center", va="center")
        axes.axis("off")
        figure.suptitle(title)
        return figure
    classes = list(next(iter(splits.values())))
    width = 0.8 / len(splits)
    for index, (split, balance) in enumerate(splits.items()):
        total = max(sum(balance.values()), 1)
        shares = [balance.get(name, 0) / total for name in classes]
        axes.bar(np.arange(len(classes)) + index * width, shares, width, label=split)
    axes.set_xticks(
        np.arange(len(classes)) + 0.4 - width / 2, classes, rotation=45 if len(classes) > 6 else 0
    )
    axes.set_ylabel("share of the split")
    axes.legend()
    figure.suptitle(f"{title}: class balance")
    figure.tight_layout()
    return figure
