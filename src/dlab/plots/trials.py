"""A search's trials: the score per trial, and the score against each hyperparameter.

Trials are counted in whole numbers, so the trial axis has integer ticks only (a 2-trial
search drawn with matplotlib's default ticks read 1.0, 1.2, ... 2.0). The second figure
answers the question a search is run for, which values of a hyperparameter score well:
one panel per hyperparameter, its value against the objective, the best trial ringed.
"""

from __future__ import annotations

import math
from typing import Any

SCALES = ("int", "float", "log", "category")
"""How a hyperparameter's axis is drawn: whole numbers, reals, reals on a log axis, or one
position per distinct value (choices and booleans)."""


def trials_figure(rows: list[dict[str, Any]], objective: str, direction: str, title: str) -> Any:
    """Each completed trial's score, the best so far as a step line, failed trials as x."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

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
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if len(rows) <= 1:  # one tick at 1, not 0.96 ... 1.04 in fractions
        axes.set_xlim(0, 2)
    axes.set_xlabel("trial")
    axes.set_ylabel(objective)
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3)
    return figure


def hyperparameters_figure(
    rows: list[dict[str, Any]], scales: dict[str, str], objective: str, direction: str, title: str
) -> Any:
    """One panel per hyperparameter: each completed trial's value against its score.

    Args:
        rows: the trials table (one dict per trial with ``score`` and each hyperparameter).
        scales: hyperparameter -> one of :data:`SCALES`, in panel order.
        direction: ``max`` or ``min``: which score is best (that trial is ringed).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = list(scales)
    columns = min(3, max(1, len(names)))
    lines = math.ceil(len(names) / columns) if names else 1
    figure = Figure(figsize=(4.2 * columns, 3.4 * lines))
    panels = figure.subplots(lines, columns, squeeze=False).ravel()
    done = [row for row in rows if row["score"] is not None]
    best = (max if direction == "max" else min)(done, key=lambda row: row["score"]) if done else None
    for axes, name in zip(panels, names, strict=False):
        scale = scales[name]
        kept = [row for row in done if row.get(name) is not None]
        if scale == "category":
            order = _categories(row[name] for row in kept)
            axes.set_xticks(range(len(order)), [str(value) for value in order])
            axes.set_xlim(-0.5, max(len(order), 1) - 0.5)
            place = {repr(value): index for index, value in enumerate(order)}
            xs = [place[repr(row[name])] for row in kept]
        else:
            xs = [float(row[name]) for row in kept]
            if scale == "log":
                axes.set_xscale("log")
            elif scale == "int":
                axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.plot(xs, [row["score"] for row in kept], "o", alpha=0.8)
        if best is not None and best in kept:
            at = xs[kept.index(best)]
            axes.plot([at], [best["score"]], "o", markersize=12, fillstyle="none", color="C2", label="best")
            axes.legend(fontsize="small")
        axes.set_xlabel(name)
        axes.set_ylabel(objective)
        axes.grid(alpha=0.3)
    for axes in panels[len(names) :]:
        axes.set_visible(False)
    figure.suptitle(title)
    figure.set_layout_engine("tight")
    return figure


def _categories(values: Any) -> list[Any]:
    """The distinct values in a stable order: numbers ascending, otherwise as first seen."""
    distinct = list({repr(value): value for value in values}.values())
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in distinct):
        return sorted(distinct)
    if all(isinstance(value, bool) for value in distinct):
        return sorted(distinct)
    return distinct
