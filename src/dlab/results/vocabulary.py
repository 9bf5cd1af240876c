"""One metric vocabulary: the names people and configs use for a run's numbers, and their paths.

metrics.json nests its numbers (``test.accuracy``, ``final.val.loss``,
``kfold.mean.mae``); flattened, those dotted paths are what ``dlab compare``
shows and gates. Configs' references, studies and sweep rows use the short names
of Keras history columns instead (``test_accuracy``, ``val_loss``). This module is
the one translation between the two, so every command resolves a name the same way.

It also knows the range a metric's values can take: an interval over two seeds of
an accuracy computed as mean +- t * std / sqrt(n) can reach below 0 or above 1, and
printing ``[0.91, 1.04]`` for an accuracy says something impossible, so interval
code asks here for the bounds and clips to them (and says so).

And it says which numbers are a run's key metrics (:func:`key_metrics`): the columns
of a sweep's summary, the ``key metrics`` of ``dlab runs`` and the key table of
``dlab report`` all come from there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from dlab.results.index import flatten_metrics

SHORT_PREFIXES = (
    ("kfold_mean_val_", "kfold.mean."),
    ("test_", "test."),
    ("val_", "final.val."),
    ("train_", "final.train."),
)
"""Short-name prefix -> metrics.json path prefix, most specific first."""


def candidate_paths(name: str) -> list[str]:
    """The dotted paths a metric name may mean, in the order they are tried.

    A dotted name or a top-level field means itself; ``test_<m>`` also means
    ``test.<m>``, ``val_<m>`` the last epoch's ``final.val.<m>``, ``train_<m>`` and
    a bare history column such as ``loss`` the last epoch's ``final.train.<m>``.
    """
    paths = [name]
    if "." in name:
        return paths
    for prefix, path in SHORT_PREFIXES:
        if name.startswith(prefix):
            paths.append(path + name[len(prefix) :])
            break
    else:
        paths.append(f"final.train.{name}")
    return paths


def lookup(values: dict[str, float], name: str) -> tuple[str | None, float | None]:
    """``(path, value)`` of a metric name in a run's flattened values, or ``(None, None)``."""
    for path in candidate_paths(name):
        if path in values:
            return path, values[path]
    return None, None


def short_name(path: str) -> str:
    """The short name of a metrics.json path: ``final.val.loss`` -> ``val_loss``."""
    for prefix, dotted in SHORT_PREFIXES:
        if path.startswith(dotted) and "." not in path[len(dotted) :]:
            return prefix + path[len(dotted) :]
    return path


KEY_SECTIONS = ("test.", "final.val.", "final.train.")
"""Where a run's key metrics are, most telling first: its test metrics, then the last epoch's
validation metrics, then its training metrics (the metrics one level below each)."""

TOP_LEVEL_RESULTS = ("final_cost", "test_loss")
"""Results some experiments record at the top of metrics.json in their sources' own terms (the
from-scratch networks' ``final_cost``, the Playground's ``test_loss``): key metrics where shown."""


def key_metrics(
    metrics: Mapping[str, Any], extra: Iterable[str] = (), *, dotted: bool = False, limit: int | None = None
) -> dict[str, float]:
    """The numbers that say how a run went: its test metrics, the last epoch's val and train metrics.

    Args:
        metrics: the run's metrics.json object.
        extra: more metric names, by any name of the vocabulary (a study's compared metric,
            :data:`TOP_LEVEL_RESULTS`), added after the sections when the run has them.
        dotted: name the metrics by their dotted paths (``test.accuracy``) instead of their
            short names (``test_accuracy``: history columns, ``dlab run``'s summary, sweep rows);
            an ``extra`` metric is named by its path, else as it was asked for.
        limit: only the most telling section the run has (test, else val, else train), and of
            it the first ``limit`` metrics: the few numbers a one-line listing has room for.

    Examples:
        >>> key_metrics({"test": {"loss": 0.3, "accuracy": 0.9}, "final": {"val": {"loss": 0.4}}})
        {'test_loss': 0.3, 'test_accuracy': 0.9, 'val_loss': 0.4}
        >>> key_metrics({"final": {"val": {"loss": 0.4, "mae": 2.5}}}, dotted=True, limit=1)
        {'final.val.loss': 0.4}
    """
    values = flatten_metrics(dict(metrics))
    sections = [
        {
            path: value
            for path, value in values.items()
            if path.startswith(prefix) and "." not in path[len(prefix) :]
        }
        for prefix in KEY_SECTIONS
    ]
    if limit is not None:
        most_telling = next((section for section in sections if section), {})
        sections = [dict(list(most_telling.items())[:limit])]
    row = {
        (path if dotted else short_name(path)): float(value)
        for section in sections
        for path, value in section.items()
    }
    for name in extra:
        path, value = lookup(values, name)
        if path is not None and value is not None:
            row.setdefault(path if dotted else name, float(value))
    return row


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool): what can be compared, gated and averaged."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_number(value: float | None) -> str:
    """A compact, readable number: 0.7143, 12.35, 11054.6; '-' for a missing value."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:.1f}"
    return f"{value:.4g}"


def signed(value: float | None) -> str:
    """A difference with its sign (``+0.012``, ``-0.3``); ``-`` for a missing value."""
    text = format_number(value)
    return text if value is None or text.startswith("-") else f"+{text}"


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
