"""Many runs or trials on one axis: a metric per member with intervals, a search's trials."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dlab.plots.style import legend_outside

if TYPE_CHECKING:
    from matplotlib.figure import Figure

History = dict[str, list[float]]


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
    axes.set_yticks(positions, [labels[i] for i in order], fontsize="small")
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
    figure.tight_layout()
    return figure


def trials_figure(rows: list[dict[str, Any]], objective: str, direction: str, title: str) -> Any:
    """Each completed trial's score, the best so far as a step line, failed trials as x."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.0))
    axes = figure.subplots()
    done = [(index, row["score"]) for index, row in enumerate(rows, start=1) if row["score"] is not None]
    if done:
        numbers, scores = zip(*done, strict=True)
        axes.plot(numbers, scores, "o", label="trial score")
        pick = max if direction == "max" else min
        best = [pick(scores[: i + 1]) for i in range(len(scores))]
        axes.step(numbers, best, where="post", label="best so far")
    failed = [index for index, row in enumerate(rows, start=1) if row["score"] is None]
    if failed:
        low = min((s for _, s in done), default=0.0)
        axes.plot(failed, [low] * len(failed), "x", color="red", label="failed")
    axes.set_xlabel("trial")
    axes.set_ylabel(objective)
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3)
    return figure
