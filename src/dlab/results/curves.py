"""Learning curves of many saved runs on one figure (``dlab compare --curve``, ``dlab report``).

Runs that differ only by their seed are one grid point: they are drawn as the
mean over seeds with a band from the lowest to the highest seed, not as a tangle
of lines. Every run keeps one colour in every figure (the caller passes the
mapping), and the legend sits outside the data.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from dlab.errors import UsageError
from dlab.fileio import atomic_path
from dlab.plots import learning_curves, seed_band_curves
from dlab.results.index import SavedRun
from dlab.results.seeds_view import seed_curves, seed_members

LEGEND_LIMIT = 12


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
        return _quiet(lambda: seed_band_curves(members, metric, title=title, colors=colors), len(members))
    drawn = [(run.label, {key: run.history[key] for key in columns if key in run.history}) for run in runs]
    return overlay_curves([item for item in drawn if item[1]], metric, title, colors)


def overlay_curves(
    runs: list[tuple[str, dict[str, list[float]]]],
    metric: str,
    title: str,
    colors: dict[str, str] | None = None,
) -> Any:
    """``plots.learning_curves`` for many runs; past a dozen runs the legend is dropped.

    With 50 runs a legend would cover the plot (and matplotlib warns that the layout
    cannot fit it); the curves still show the spread, and the table names the runs.
    """
    return _quiet(lambda: learning_curves(runs, metric, title=title, colors=colors), len(runs))


def _quiet(draw: Any, count: int) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Tight layout not applied" for huge legends
        figure = draw()
        if count > LEGEND_LIMIT:
            for axes in figure.axes:
                if axes.get_legend() is not None:
                    axes.get_legend().remove()
            figure.tight_layout()
    return figure
