"""The figure of a regression: predicted against true values on the test split."""

from __future__ import annotations

from typing import Any

import numpy as np


def predicted_vs_true(true: Any, predicted: Any, title: str, unit: str = "") -> Any:
    """A scatter of test predictions against the truth, with the diagonal a perfect model draws.

    Args:
        true, predicted: one value per test sample.
        unit: the target's unit, for the axis labels ("" for none).
    """
    from matplotlib.figure import Figure  # lazy: matplotlib costs start-up time

    true = np.asarray(true, dtype=float).reshape(-1)
    predicted = np.asarray(predicted, dtype=float).reshape(-1)
    figure = Figure(figsize=(5.5, 5))
    axes = figure.add_subplot()
    axes.scatter(true, predicted, s=12, alpha=0.6, label=f"{len(true)} test samples")
    low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
    axes.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--", label="perfect")
    mae = float(np.mean(np.abs(predicted - true)))
    suffix = f" ({unit})" if unit else ""
    axes.set_xlabel(f"true{suffix}")
    axes.set_ylabel(f"predicted{suffix}")
    axes.set_title(f"{title}\ntest MAE {mae:.4g}", fontsize="medium")
    axes.legend(loc="upper left", fontsize="small")
    figure.set_layout_engine("tight")
    return figure
