"""Learning curves of many saved runs on one figure (``dlab compare --curve``, ``dlab report``).

Runs that differ only by their seed are one grid point: they are drawn as the
mean over seeds with a band from the lowest to the highest seed, not as a tangle
of lines. Every run keeps one colour in every figure (the caller passes the
mapping).

The legend sits below the axes, one entry per run (its colour, its label with
short key names, :func:`~dlab.results.labels.compact_labels`, cut to
:data:`LEGEND_LABEL_CHARS`) plus one per line style (train dashed, validation
solid), in as many columns as the figure's fixed width holds: a legend to the
right of the axes took a third of the width with ten runs' labels and shrank the
plot, and a label per curve doubled the entries. Past :data:`LEGEND_LIMIT` runs
there is no legend (the tables name the runs).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from dlab.errors import UsageError
from dlab.fileio import atomic_path
from dlab.plots import learning_curves, run_colors, seed_band_curves
from dlab.results.index import SavedRun
from dlab.results.labels import compact_labels
from dlab.results.seeds_view import seed_curves, seed_members
from dlab.results.tables import ellipsize

LEGEND_LIMIT = 12
"""Runs beyond which a figure has no legend: 50 entries would be taller than the plot."""
LEGEND_LABEL_CHARS = 30
"""The longest run label a legend shows (longer ones are cut with '...'; the tables have them whole)."""
FIGURE_SIZE = (7.6, 4.2)
"""Every many-run figure's size in inches (the legend's rows add to the height only)."""
_CHAR_INCHES = 0.068  # one character of a 'small' legend label, about
_ENTRY_INCHES = 0.55  # an entry's line sample and the gaps around it


def write_curve(runs: list[SavedRun], curve: str, output: Path) -> Path:
    """Overlay one history column across runs (``--curve``) and save it as a PNG.

    ``loss`` draws each run's training (dashed) and validation (solid) loss;
    ``val_loss`` only the validation curve. Grid points with several seeds are drawn
    as their mean with a band.

    Raises:
        UsageError: no run recorded that history column (the message lists those that exist).
    """
    base = curve.removeprefix("val_")
    keys = {curve} if curve.startswith("val_") else {base, f"val_{base}"}
    drawn = [(run.label, {key: values for key, values in run.history.items() if key in keys}) for run in runs]
    drawn = [(label, history) for label, history in drawn if history]
    if not drawn:
        columns = sorted({key for run in runs for key in run.history})
        raise UsageError(
            f"--curve '{curve}': no run recorded it in its history. "
            + (
                f"History columns: {', '.join(columns)}."
                if columns
                else "None of these runs has a history.csv/history.json."
            )
        )
    if output.suffix.lower() != ".png":
        raise UsageError(f"-o '{output}': the curve is written as a PNG; use a name ending in .png.")
    with_history = [run for run in runs if any(key in run.history for key in keys)]
    title = f"{curve.replace('_', ' ')} across {len(drawn)} runs"
    figure = runs_figure(with_history, base, title, only=sorted(keys))
    try:
        with atomic_path(output) as tmp:
            figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    except OSError as error:  # a read-only folder, a file where a folder should be, a full disk
        raise UsageError(
            f"-o '{output}': cannot write the curve there "
            f"({error.strerror or error}). Choose a writable path with "
            "-o FILE.png."
        ) from None
    return output


def runs_figure(
    runs: list[SavedRun],
    metric: str,
    title: str,
    colors: dict[str, str] | None = None,
    only: list[str] | None = None,
) -> Any:
    """One metric's curves for the runs: per run, or per grid point (seed mean and band)."""
    columns = only or [metric, f"val_{metric}"]
    if seed_members(runs):
        members = seed_curves(runs, columns)
        colors = colors or run_colors(label for label, _ in members)
        figure = _drawn(lambda: seed_band_curves(members, metric, title=title, colors=colors))
        return legend_below(figure, [label for label, _ in members], colors, seeds=True)
    drawn = [(run.label, {key: run.history[key] for key in columns if key in run.history}) for run in runs]
    return overlay_curves([item for item in drawn if item[1]], metric, title, colors)


def overlay_curves(
    runs: list[tuple[str, dict[str, list[float]]]],
    metric: str,
    title: str,
    colors: dict[str, str] | None = None,
) -> Any:
    """``plots.learning_curves`` for many runs, with the legend below the axes (:func:`legend_below`)."""
    colors = colors or run_colors(label for label, _ in runs)
    figure = _drawn(lambda: learning_curves(runs, metric, title=title, colors=colors))
    return legend_below(figure, [label for label, _ in runs], colors) if len(runs) > 1 else figure


def legend_below(figure: Any, labels: list[str], colors: dict[str, str], *, seeds: bool = False) -> Any:
    """Replace each axes' legend by one below it: a short entry per run, one per line style.

    The figure keeps :data:`FIGURE_SIZE`'s width; the legend's rows make it taller. Past
    :data:`LEGEND_LIMIT` runs the legend is dropped.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    for axes in figure.axes:
        if axes.get_legend() is not None:
            axes.get_legend().remove()
    if not figure.axes or len(labels) > LEGEND_LIMIT:
        return _drawn(lambda: figure.tight_layout() or figure)
    axes = figure.axes[0]
    shown = [ellipsize(label, LEGEND_LABEL_CHARS) for label in compact_labels(labels)]
    handles: list[Any] = [
        Line2D([], [], color=colors.get(label, "C0"), linewidth=2.5, label=text)
        for label, text in zip(labels, shown, strict=True)
    ]
    styles = {line.get_linestyle() for line in axes.lines}
    if len(styles) > 1:  # train and validation both drawn: say which is which, once
        handles.append(Line2D([], [], color="0.35", linestyle="--", label="train"))
        handles.append(Line2D([], [], color="0.35", linestyle="-", label="validation"))
    if seeds:
        handles.append(Patch(color="0.35", alpha=0.2, label="lowest to highest seed"))
    longest = max(len(handle.get_label()) for handle in handles)
    columns = max(1, min(len(handles), int(FIGURE_SIZE[0] / (_CHAR_INCHES * longest + _ENTRY_INCHES))))
    rows = -(-len(handles) // columns)
    figure.set_size_inches(FIGURE_SIZE[0], FIGURE_SIZE[1] + 0.22 * rows)
    axes.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=columns,
        fontsize="small",
        frameon=False,
    )
    return _drawn(lambda: figure.tight_layout() or figure)


def _drawn(draw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Tight layout not applied" for huge legends
        return draw()
