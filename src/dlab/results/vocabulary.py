"""What dlab knows about a metric from its name: the range its values can take.

An interval over two seeds of an accuracy can reach below 0 or above 1 when it
is computed as mean +- t * std / sqrt(n); printing ``[0.91, 1.04]`` for an
accuracy says something impossible. Interval code asks here for the bounds and
clips to them (and says so). The name is a dotted metrics.json path or a study
name (``test.accuracy``, ``val_accuracy``, ``final.val.mean_iou``,
``anomaly_detection.roc_auc``); only its last word counts.
"""

from __future__ import annotations

import re

UNIT_INTERVAL = ("accuracy", "auc", "iou", "precision", "recall", "f1")
"""Metrics that are fractions: their values lie in [0, 1]."""

NON_NEGATIVE = ("loss", "mae", "mse", "rmse", "perplexity", "cost", "error", "time", "seconds")
"""Metrics that cannot be negative (errors, losses, times)."""


def _words(name: str) -> list[str]:
    last = name.split(".")[-1].lower()
    return [word for word in re.split(r"[_\W]+", last) if word]


def metric_bounds(name: str) -> tuple[float | None, float | None]:
    """``(low, high)`` the metric's values must lie in; None where unbounded.

    Examples:
        >>> metric_bounds("test.accuracy")
        (0.0, 1.0)
        >>> metric_bounds("test_loss")
        (0.0, None)
        >>> metric_bounds("kfold.mean.r2")
        (None, None)
    """
    words = _words(name)
    if any(word in UNIT_INTERVAL or word.endswith("accuracy") for word in words):
        return 0.0, 1.0
    if any(word in NON_NEGATIVE for word in words) or name.endswith("_s"):
        return 0.0, None
    return None, None


def is_fraction(name: str) -> bool:
    """Whether the metric lies in [0, 1] (accuracy, AUC, IoU, precision, recall, F1)."""
    return metric_bounds(name) == (0.0, 1.0)
