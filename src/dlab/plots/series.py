"""Sequences and embeddings: forecasts against the truth, word vectors on a plane."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

History = dict[str, list[float]]


def forecast_stretch(hours, truth, predictions: dict, title: str, unit: str = "degC") -> Figure:
    """A forecast against the truth over a stretch of time: truth in black, one line per
    predictor (the model, the last-value baseline ...), with each one's MAE over the stretch.

    Args:
        hours: the time of each target, in hours from the first one.
        truth: the true values.
        predictions: label -> predicted values, aligned with ``truth``.
    """
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2))
    axes = figure.add_subplot()
    truth = np.asarray(truth)
    axes.plot(hours, truth, color="black", linewidth=1.4, label="truth")
    for index, (label, values) in enumerate(predictions.items()):
        values = np.asarray(values)
        mae = float(np.mean(np.abs(values - truth))) if len(truth) else float("nan")
        axes.plot(
            hours,
            values,
            color=f"C{index}",
            linewidth=1.0,
            alpha=0.85,
            label=f"{label} (MAE {mae:.2f} {unit})",
        )
    axes.set_xlabel("hours")
    axes.set_ylabel(unit)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.set_layout_engine("tight")
    return figure


def embedding_map(words: Sequence[str], points: Any, title: str) -> Figure:
    """The words as labelled points on the first two principal components of their vectors.

    Args:
        words: one label per point.
        points: (len(words), 2) coordinates, e.g. :func:`dlab.models.embeddings.pca_2d`.
        title: figure title.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 6.5))
    axes = figure.add_subplot()
    axes.scatter(points[:, 0], points[:, 1], s=10, color="C0")
    for word, (x, y) in zip(words, points, strict=True):
        axes.annotate(word, (x, y), fontsize=8, xytext=(2, 2), textcoords="offset points")
    axes.set_xlabel("principal component 1")
    axes.set_ylabel("principal component 2")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.set_layout_engine("tight")
    return figure
