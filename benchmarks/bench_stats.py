"""Small statistics for benchmarks on a noisy machine: medians, spread, intervals, verdicts.

No third-party imports, so any benchmark can use it. A median's interval is distribution-free
(order statistics, :func:`median_interval`); a statistic of several groups (the geometric mean
of per-config medians) gets a percentile bootstrap interval with a fixed seed, so the same
measurements always give the same interval.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence

Interval = tuple[float, float]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation / mean (None with fewer than two values)."""
    if len(values) < 2:
        return None
    return statistics.stdev(values) / statistics.fmean(values)


def bootstrap_interval(
    groups: Sequence[Sequence[float]],
    statistic: Callable[[list[list[float]]], float],
    level: float = 0.9,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``statistic(groups)``.

    Each resample draws every group anew, with replacement and at its own size (groups are
    independent: e.g. one group of pair ratios per config, with ``statistic`` the geometric
    mean of the groups' medians). A fixed ``seed`` makes the interval reproducible.
    """
    rng = random.Random(seed)
    draws = sorted(
        statistic([rng.choices(group, k=len(group)) for group in groups]) for _ in range(resamples)
    )
    tail = (1 - level) / 2
    low = draws[int(math.floor(tail * (resamples - 1)))]
    high = draws[int(math.ceil((1 - tail) * (resamples - 1)))]
    return low, high


def median_interval(values: Sequence[float], level: float = 0.9) -> Interval | None:
    """Distribution-free interval of the median of ``values``: order statistics x(k) and x(n+1-k),
    with the largest k for which it covers the true median with probability >= ``level``
    (binomial: each value falls below the median with probability 1/2; no assumption on the
    spread's shape). None when there are too few values for any such interval
    (:func:`fewest_for`: 5 at 90%, where the interval is min-max).
    """
    n, tail = len(values), (1 - level) / 2
    k = 0
    while k + 1 <= n // 2 and _below(k, n) <= tail:  # P(fewer than k+1 values below the median)
        k += 1
    if k == 0:
        return None
    ordered = sorted(values)
    return ordered[k - 1], ordered[n - k]


def _below(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) <= k)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def fewest_for(level: float = 0.9) -> int:
    """The fewest values :func:`median_interval` needs for an interval at ``level``."""
    n = 1
    while median_interval([0.0] * n, level) is None:
        n += 1
    return n


def geomean_of_medians_interval(
    groups: Sequence[Sequence[float]], level: float = 0.9, seed: int = 0
) -> Interval:
    """Bootstrap interval of the geometric mean of each group's median."""
    return bootstrap_interval(groups, lambda drawn: geomean([median(g) for g in drawn]), level, seed=seed)


def relative_half_width(interval: Interval, centre: float) -> float:
    """Half the interval's width as a share of ``centre`` (0.05: the interval spans +-5%)."""
    return (interval[1] - interval[0]) / 2 / abs(centre)


def verdict(
    interval: Interval | None, target: float, at_least: bool = True, why_none: str = "no interval"
) -> str:
    """ "met" when the whole interval is on the target's good side (>= ``target``, or <= it with
    ``at_least=False``), "MISSED" when the whole interval is on the wrong side, "UNDECIDED" with
    the interval otherwise (or ``why_none`` without one)."""
    if interval is None:
        return f"UNDECIDED ({why_none})"
    low, high = interval
    good, bad = (low >= target, high < target) if at_least else (high <= target, low > target)
    if good:
        return "met"
    if bad:
        return "MISSED"
    return f"UNDECIDED (spread too wide: {low:.2f}-{high:.2f})"


def combined_verdict(verdicts: Sequence[str]) -> str:
    """The verdict of "on every one": MISSED if any missed, met if all met, UNDECIDED otherwise."""
    if any(v == "MISSED" for v in verdicts):
        return "MISSED"
    if verdicts and all(v == "met" for v in verdicts):
        return "met"
    return "UNDECIDED"
