"""Statistics over seeds: mean, standard deviation and a 95% interval that respects the metric's range.

A grid point run with several seeds is one measurement with a spread; showing
each seed as its own run hides that. The interval is mean +- t(0.975, n-1) *
std / sqrt(n) with the sample standard deviation. For a metric with bounds
(an accuracy in [0, 1], a loss >= 0; see :mod:`dlab.results.vocabulary`) the
interval is clipped to them and says so (``clipped``): with two seeds t is 12.7,
and an unclipped interval of accuracies 0.97 and 0.99 would reach 1.05.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from typing import Any

from dlab.results.vocabulary import metric_bounds

# Student's t, 97.5% quantile (two-sided 95% interval) for 1..30 degrees of freedom.
_T_975 = (
    12.7062,
    4.3027,
    3.1824,
    2.7764,
    2.5706,
    2.4469,
    2.3646,
    2.3060,
    2.2622,
    2.2281,
    2.2010,
    2.1788,
    2.1604,
    2.1448,
    2.1314,
    2.1199,
    2.1098,
    2.1009,
    2.0930,
    2.0860,
    2.0796,
    2.0739,
    2.0687,
    2.0639,
    2.0595,
    2.0555,
    2.0518,
    2.0484,
    2.0452,
    2.0423,
)
# ... and beyond, interpolated linearly in 1/df (the usual table rule; exact to ~1e-4).
_T_975_LARGE = ((30, 2.0423), (40, 2.0211), (60, 2.0003), (120, 1.9799), (math.inf, 1.9600))


def t_quantile_975(degrees_of_freedom: int) -> float:
    """The 97.5% quantile of Student's t (SciPy is not a dependency, so from a table).

    Args:
        degrees_of_freedom: n - 1 for n samples; at least 1.

    Returns:
        t such that mean +- t * std / sqrt(n) is a two-sided 95% interval.
    """
    if degrees_of_freedom < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {degrees_of_freedom}")
    if degrees_of_freedom <= len(_T_975):
        return _T_975[degrees_of_freedom - 1]
    for (low_df, low_t), (high_df, high_t) in itertools.pairwise(_T_975_LARGE):
        if degrees_of_freedom <= high_df:
            position = (1 / low_df - 1 / degrees_of_freedom) / (1 / low_df - 1 / high_df)
            return low_t + position * (high_t - low_t)
    return 1.96  # unreachable: the last bound is infinite


def seed_statistics(values: Sequence[float], metric: str | None = None) -> dict[str, Any]:
    """Mean, sample standard deviation and t-based 95% interval of one metric over seeds.

    With one value the spread is unknown: ``std`` and the interval are None. With a
    ``metric`` name whose values are bounded, the interval is clipped to the bounds
    and ``clipped`` says so.
    """
    count = len(values)
    mean = statistics.fmean(values) if values else None
    result: dict[str, Any] = {"n": count, "mean": mean, "std": None, "ci95_low": None, "ci95_high": None}
    if count < 2:
        return result
    std = statistics.stdev(values)
    half_width = t_quantile_975(count - 1) * std / math.sqrt(count)
    low, high = mean - half_width, mean + half_width
    floor, ceiling = metric_bounds(metric) if metric else (None, None)
    clipped = (floor is not None and low < floor) or (ceiling is not None and high > ceiling)
    if floor is not None:
        low = max(low, floor)
    if ceiling is not None:
        high = min(high, ceiling)
    result.update(std=std, ci95_low=low, ci95_high=high)
    if clipped:
        result["clipped"] = f"clipped to the metric's range [{_bound(floor)}, {_bound(ceiling)}]"
    return result


def _bound(value: float | None) -> str:
    return "inf" if value is None else f"{value:g}"


def format_interval(stats: dict[str, Any]) -> str:
    """``0.95 +- 0.012 (95% CI 0.93 to 0.97, n=3)`` for tables; the clipping said with a ``*``."""
    mean = stats.get("mean")
    if mean is None:
        return "-"
    if stats.get("std") is None:
        return f"{mean:.4g} (n={stats['n']})"
    mark = "*" if stats.get("clipped") else ""
    return (
        f"{mean:.4g} +- {stats['std']:.2g} (95% CI {stats['ci95_low']:.4g} to "
        f"{stats['ci95_high']:.4g}{mark}, n={stats['n']})"
    )
