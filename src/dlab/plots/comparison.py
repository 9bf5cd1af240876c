"""Many runs on one axis: a metric per member with intervals (a search's trials: :mod:`.trials`)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dlab.plots.style import legend_outside

if TYPE_CHECKING:
    from matplotlib.figure import Figure

History = dict[str, list[float]]

TICK_LABEL_CHARS = 32
"""A bar's label is wrapped at this many characters, to two lines at most (cut with '...'): a long
member label (a config and its overrides) would otherwise squeeze the bars into a sliver."""


def metric_comparison(
    labels: Sequence[str],
    values: Sequence[float],
    errors: Sequence[float | tuple[float, float]],
    metric: str,
    goal: str = "min",
    threshold: float | None = None,
    colors: dict[str, str] | None = None,
    threshold_label: str | None = None,
) -> Figure:
    """One metric per run or study member as horizontal bars, best first, with error bars.

    Args:
        labels: one name per bar (a member: config and overrides).
        values: the metric (the mean over seeds for a member).
        errors: per bar, the half-width of its interval, or ``(below, above)`` for an
            interval clipped to the metric's range (0: none).
        metric: the metric's name, for the axis.
        goal: ``min`` or ``max``: which end is best (the best bar is outlined).
        threshold: a target value, drawn as a dashed line.
        colors: label -> colour, so a run keeps its colour across figures (default: one
            colour, the best bar green).
        threshold_label: the threshold's name in the legend (default "threshold <value>").
    """
    from matplotlib.figure import Figure

    order = sorted(range(len(values)), key=lambda i: values[i], reverse=goal == "max")
    figure = Figure(figsize=(8.4, 1.4 + 0.42 * len(values)))
    axes = figure.add_subplot()
    positions = list(range(len(order)))
    if colors:
        bar_colors = [colors.get(labels[i], "C0") for i in order]
    else:
        bar_colors = ["C2" if rank == 0 else "C0" for rank in positions]
    spans = [errors[i] if isinstance(errors[i], tuple) else (errors[i], errors[i]) for i in order]
    bars = axes.barh(
        positions,
        [values[i] for i in order],
        xerr=[[below for below, _ in spans], [above for _, above in spans]],
        color=bar_colors,
        alpha=0.85,
        capsize=3,
    )
    if colors and bars:
        bars[0].set_edgecolor("black")
        bars[0].set_linewidth(1.5)
    axes.set_yticks(positions, [tick_label(labels[i]) for i in order], fontsize="small")
    axes.invert_yaxis()
    if threshold is not None:
        name = threshold_label or f"threshold {threshold:.3g}"
        axes.axvline(threshold, color="black", linestyle="--", label=name)
        legend_outside(axes)
    better = "lower" if goal == "min" else "higher"
    has_errors = any(below or above for below, above in spans)
    axes.set_xlabel(
        f"{metric} ({better} is better; bars: 95% interval over seeds)"
        if has_errors
        else f"{metric} ({better} is better)"
    )
    axes.grid(alpha=0.3, axis="x")
    figure.set_layout_engine("tight")
    return figure


def tick_label(label: str) -> str:
    """A bar's label on at most two lines of :data:`TICK_LABEL_CHARS` (see there)."""
    return textwrap.fill(label, TICK_LABEL_CHARS, max_lines=2, placeholder="...", break_on_hyphens=False)
