"""Learning curves: per-epoch metrics of one run or many, k-fold means, learning-rate schedules."""

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


def learning_curves(
    runs: Sequence[tuple[str, History]],
    metric: str,
    title: str | None = None,
    colors: dict[str, str] | None = None,
) -> Figure:
    """Train (dashed) and validation (solid) ``metric`` per epoch, one colour per run.

    Args:
        runs: ``(label, history)`` pairs; the label may be empty for a single run.
        metric: base metric name, e.g. ``loss``; ``val_<metric>`` is drawn too.
        title: figure title (default: the metric name).
        colors: label -> colour, so a run keeps its colour across figures
            (default: :func:`~dlab.plots.style.run_colors` of the labels in order).
    """
    from matplotlib.figure import Figure

    from dlab.plots.style import epoch_axis, legend_outside, marker_style, run_colors

    colors = colors or run_colors(label for label, _ in runs)
    figure = Figure(figsize=(7.6 if len(runs) > 1 else 6.4, 4.2))
    axes = figure.add_subplot()
    longest = 1
    for label, history in runs:
        parts = ((metric, "--", "train", 0), (f"val_{metric}", "-", "validation", 1))
        if metric == "learning_rate":  # not a train metric: the rate each epoch trained with
            parts = ((metric, "-", "applied", 2),)
        for key, style, part, offset in parts:
            values = history.get(key)
            if not values:
                continue
            # one run: train and validation in two colours; many runs: one colour per run
            color = f"C{offset}" if len(runs) == 1 else colors.get(label, "C0")
            longest = max(longest, len(values))
            name = f"{label} {part}" if label else part
            epochs = range(1, len(values) + 1)
            axes.plot(epochs, values, style, color=color, label=name, **marker_style(len(values)))
    epoch_axis(axes, longest)
    axes.set_ylabel(metric.replace("_", " "))
    axes.set_title(title or metric.replace("_", " "))
    axes.grid(alpha=0.3)
    if axes.lines:
        if len(runs) > 1:
            legend_outside(axes)
        else:
            axes.legend(fontsize="small")
    figure.set_layout_engine("tight")
    return figure


def seed_band_curves(
    members: Sequence[tuple[str, dict[str, list[list[float]]]]],
    metric: str,
    title: str | None = None,
    colors: dict[str, str] | None = None,
) -> Figure:
    """Each member's mean curve over its seeds with a band from the lowest to the highest seed.

    Args:
        members: ``(label, {column: [one list per seed]})``; columns ``metric`` (train,
            dashed) and ``val_<metric>`` (validation, solid) are drawn.
        metric: base metric name.
        title: figure title.
        colors: label -> colour, shared with the report's other figures.
    """
    import numpy as np
    from matplotlib.figure import Figure

    from dlab.plots.style import epoch_axis, legend_outside, marker_style, run_colors

    colors = colors or run_colors(label for label, _ in members)
    figure = Figure(figsize=(7.6, 4.2))
    axes = figure.add_subplot()
    longest = 1
    for label, columns in members:
        for key, style, part in ((metric, "--", "train"), (f"val_{metric}", "-", "validation")):
            runs = [values for values in columns.get(key) or [] if values]
            if not runs:
                continue
            length = min(len(values) for values in runs)
            stack = np.array([values[:length] for values in runs], dtype=float)
            epochs = np.arange(1, length + 1)
            color = colors.get(label, "C0")
            mean = stack.mean(axis=0)
            longest = max(longest, length)
            seeds = f" (mean of {len(runs)} seeds)" if len(runs) > 1 else ""
            axes.plot(
                epochs, mean, style, color=color, label=f"{label} {part}{seeds}", **marker_style(length)
            )
            if len(runs) > 1:
                axes.fill_between(epochs, stack.min(axis=0), stack.max(axis=0), color=color, alpha=0.15)
    epoch_axis(axes, longest)
    axes.set_ylabel(metric.replace("_", " "))
    axes.set_title(title or f"{metric.replace('_', ' ')}: mean over seeds, band from lowest to highest")
    axes.grid(alpha=0.3)
    if axes.lines:
        legend_outside(axes)
    figure.set_layout_engine("tight")
    return figure


def smooth(values: Sequence[float], factor: float = 0.9) -> list[float]:
    """Exponential moving average, as Deep Learning with Python smooths k-fold curves."""
    smoothed: list[float] = []
    for value in values:
        smoothed.append(smoothed[-1] * factor + value * (1 - factor) if smoothed else value)
    return smoothed


def kfold_curve(mean_curve: Sequence[float], metric: str, title: str) -> Figure:
    """A validation metric averaged over folds per epoch, raw and smoothed."""
    from matplotlib.figure import Figure

    from dlab.plots.style import epoch_axis

    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    epochs = range(1, len(mean_curve) + 1)
    axes.plot(epochs, mean_curve, color="C0", alpha=0.45, label="mean over folds")
    axes.plot(epochs, smooth(mean_curve), color="C0", linewidth=2, label="smoothed (EMA 0.9)")
    epoch_axis(axes, len(mean_curve))
    axes.set_ylabel(metric.replace("_", " "))
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.set_layout_engine("tight")
    return figure


def learning_rate_schedule(
    schedule, steps_per_epoch: int, epochs: int, title: str, applied: Sequence[float] | None = None
) -> Figure:
    """The learning rate of every epoch: the rate training applied, and the schedule's plan.

    Args:
        schedule: a Keras schedule (called with the step of each epoch's start) or a number.
        applied: the rate each epoch trained with, as the history recorded it (its
            ``learning_rate`` column: the optimizer's rate at the epoch's first step, after any
            ReduceLROnPlateau reduction, continued across a resume); drawn as the curve, with
            the schedule's plan dashed behind it. None: the schedule alone, as before.
    """
    import numpy as np
    from matplotlib.figure import Figure

    from dlab.plots.style import epoch_axis, marker_style

    epoch_starts = np.arange(epochs) * steps_per_epoch
    rates = (
        [float(schedule(int(step))) for step in epoch_starts]
        if callable(schedule)
        else [float(schedule)] * epochs
    )
    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    if applied:
        if callable(schedule):
            axes.plot(np.arange(1, epochs + 1), rates, "--", color="0.6", label="schedule (planned)")
        axes.plot(
            np.arange(1, len(applied) + 1),
            list(applied),
            color="C2",
            label="applied (first step of each epoch)",
            **marker_style(len(applied)),
        )
        axes.legend(fontsize="small")
    else:
        axes.plot(np.arange(1, epochs + 1), rates, color="C2")
    epoch_axis(axes, max(epochs, len(applied or ())))
    axes.set_ylabel("learning rate")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.set_layout_engine("tight")
    return figure
