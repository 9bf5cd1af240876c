"""Runs that differ only by their seed, shown as one grid point: mean, spread, interval, curve band.

``dlab compare`` and ``dlab report`` group the runs they show by their label
without its ``seed=`` part (see :mod:`dlab.results.labels`); a group with more
than one run is a grid point measured over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlab.results.index import SavedRun
from dlab.results.labels import member_key
from dlab.results.seeds import format_interval, seed_statistics


def seed_members(runs: Sequence[SavedRun]) -> dict[str, list[SavedRun]]:
    """Runs grouped by grid point, in first-seen order; empty unless some point has several seeds."""
    groups: dict[str, list[SavedRun]] = {}
    for run in runs:
        groups.setdefault(member_key(run), []).append(run)
    if not any(len(group) > 1 and any("seed=" in run.label for run in group) for group in groups.values()):
        return {}
    return groups


def seed_groups(runs: Sequence[SavedRun], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Per grid point: its completed runs' seeds and the statistics of every shown metric."""
    found = []
    for member, group in seed_members(runs).items():
        done = [run for run in group if run.status == "completed"]
        found.append(
            {
                "member": member or "(all runs)",
                "runs": len(group),
                "completed": len(done),
                "seeds": [run.config.get("seed") for run in group],
                "metrics": {
                    metric: seed_statistics(
                        [run.values[metric] for run in done if metric in run.values], metric
                    )
                    for metric in metrics
                },
            }
        )
    return found


def seed_lines(runs: Sequence[SavedRun], metrics: Sequence[str]) -> str:
    """The grid points' statistics as lines under the console table ('' when no point has seeds)."""
    groups = seed_groups(runs, metrics)
    if not groups:
        return ""
    lines = ["", "over seeds (mean +- std, 95% interval; * clipped to the metric's range):"]
    for group in groups:
        lines.append(f"  {group['member']}  ({group['completed']} of {group['runs']} runs completed)")
        for metric, stats in group["metrics"].items():
            lines.append(f"    {metric}: {format_interval(stats)}")
    if any(stats.get("clipped") for group in groups for stats in group["metrics"].values()):
        lines.append(
            "  * an accuracy, AUC or IoU lies in [0, 1] and a loss is >= 0: the interval stops there"
        )
    return "\n".join(lines) + "\n"


def seed_curves(
    runs: Sequence[SavedRun], columns: Sequence[str]
) -> list[tuple[str, dict[str, list[list[float]]]]]:
    """Per grid point, every seed's history of each column (for a mean line and a band)."""
    members = seed_members(runs) or {run.label: [run] for run in runs}
    drawn = []
    for member, group in members.items():
        histories = {
            column: [run.history[column] for run in group if run.history.get(column)] for column in columns
        }
        if any(histories.values()):
            drawn.append((member, histories))
    return drawn
