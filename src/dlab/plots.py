"""Figures. Every function returns a matplotlib ``Figure``; ``RunDir.save_figure`` writes it.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no
GUI backend is ever touched (there is no display on CI machines) and no global
figure state leaks between runs. Functions accept many runs where that makes
sense, so ``dlab compare`` and studies reuse them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

History = dict[str, list[float]]


def curve_metrics(history: History) -> list[str]:
    """The base metric names in a history (``loss``, ``accuracy`` ...), without ``val_``."""
    names = [key.removeprefix("val_") for key in history]
    return list(dict.fromkeys(name for name in names if name))


def learning_curves(runs: Sequence[tuple[str, History]], metric: str,
                    title: str | None = None) -> Figure:
    """Train (dashed) and validation (solid) ``metric`` per epoch, one colour per run.

    Args:
        runs: ``(label, history)`` pairs; the label may be empty for a single run.
        metric: base metric name, e.g. ``loss``; ``val_<metric>`` is drawn too.
        title: figure title (default: the metric name).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    longest = 1
    for index, (label, history) in enumerate(runs):
        parts = ((metric, "--", "train", 0), (f"val_{metric}", "-", "validation", 1))
        for key, style, part, offset in parts:
            values = history.get(key)
            if not values:
                continue
            # one run: train and validation in two colours; many runs: one colour per run
            color = f"C{offset}" if len(runs) == 1 else f"C{index % 10}"
            epochs = range(1, len(values) + 1)
            longest = max(longest, len(values))
            name = f"{label} {part}" if label else part
            axes.plot(epochs, values, style, color=color, marker="o", markersize=3, label=name)
    axes.set_xlim(0.5, longest + 0.5)
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric.replace("_", " "))
    axes.set_title(title or metric.replace("_", " "))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    if axes.lines:
        axes.legend()
    figure.tight_layout()
    return figure
