"""Figures. Every function returns a matplotlib ``Figure``; ``RunDir.save_figure`` writes it.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no
GUI backend is ever touched (there is no display on CI machines) and no global
figure state leaks between runs. Functions accept many runs where that makes
sense, so ``dlab compare`` and studies reuse them. One module per kind of figure;
:mod:`.style` holds what they share (run colours, markers, epoch ticks, the smoke
mark). A base module: it imports no dlab layer.
"""

from dlab.plots.boundaries import decision_boundary, fitted_line
from dlab.plots.classification import (
    confusion_matrix,
    error_histogram,
    prediction_grid,
    roc_and_pr_curves,
    segmentation_masks,
)
from dlab.plots.comparison import metric_comparison
from dlab.plots.curves import (
    History,
    curve_metrics,
    kfold_curve,
    learning_curves,
    learning_rate_schedule,
    seed_band_curves,
    smooth,
)
from dlab.plots.data_info import data_info_figure
from dlab.plots.series import embedding_map, forecast_stretch
from dlab.plots.style import SMOKE_MARK, mark_smoke, run_colors
from dlab.plots.trials import hyperparameters_figure, trials_figure

__all__ = [
    "SMOKE_MARK",
    "History",
    "confusion_matrix",
    "curve_metrics",
    "data_info_figure",
    "decision_boundary",
    "embedding_map",
    "error_histogram",
    "fitted_line",
    "forecast_stretch",
    "hyperparameters_figure",
    "kfold_curve",
    "learning_curves",
    "learning_rate_schedule",
    "mark_smoke",
    "metric_comparison",
    "prediction_grid",
    "roc_and_pr_curves",
    "run_colors",
    "seed_band_curves",
    "segmentation_masks",
    "smooth",
    "trials_figure",
]
