"""What a sweep writes: one row per run, statistics across seeds, summary files and figures.

A sweep's runs are separate processes; all this module sees of them is their
run directories (metrics.json, history.json). It turns those into
``summary.csv`` / ``summary.json`` (one row per run), ``seeds.csv`` (mean,
standard deviation and 95% interval per member when seeds are a sweep axis)
and, for studies, the comparison figures. Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlab.fileio import atomic_path, atomic_write_json, atomic_write_text, read_json_object
from dlab.plots import metric_comparison
from dlab.results.curves import overlay_curves  # legend below the axes, short labels, fixed width
from dlab.results.index import flatten_metrics
from dlab.results.seeds import seed_statistics
from dlab.results.seeds import t_quantile_975 as t_quantile_975  # re-exported: statistics live in results
from dlab.results.vocabulary import is_number, lookup
from dlab.results.vocabulary import key_metrics as key_metrics  # re-exported: one home, in results

SUMMARY_SCHEMA_VERSION = 1

# --------------------------------------------------------------------------- metrics of one run


def metric_value(metrics: dict[str, Any], name: str) -> float | None:
    """One number from a run's metrics.json by any name of the metric vocabulary, else None.

    See :func:`dlab.results.vocabulary.candidate_paths` (``test_loss`` is ``test.loss``,
    ``val_accuracy`` the last epoch's ``final.val.accuracy``, ``wall_time_s`` itself ...).
    """
    return lookup(flatten_metrics(metrics), name)[1]


# --------------------------------------------------------------------------- across seeds


def aggregate_seeds(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group rows by member (config and overrides, seed aside); statistics of every metric.

    Only completed runs count; a member whose runs all failed still gets an entry
    (with ``completed: 0``) so that the summary shows it.

    Args:
        rows: sweep rows with ``config``, ``overrides``, ``seed``, ``status``, ``metrics``.

    Returns:
        One entry per member, in first-seen order: config, overrides, seeds, runs,
        completed, and ``metrics``: name -> :func:`seed_statistics`.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["config"], tuple(row["overrides"])), []).append(row)
    entries = []
    for (config, overrides), members in groups.items():
        completed = [row for row in members if row["status"] == "completed"]
        names = list(dict.fromkeys(name for row in completed for name in row["metrics"]))
        entries.append(
            {
                "config": config,
                "overrides": list(overrides),
                "seeds": [row["seed"] for row in members],
                "runs": len(members),
                "completed": len(completed),
                "metrics": {
                    name: seed_statistics(
                        [row["metrics"][name] for row in completed if name in row["metrics"]], name
                    )
                    for name in names
                },
            }
        )
    return entries


# --------------------------------------------------------------------------- files

_ROW_COLUMNS = ("index", "config", "overrides", "seed", "status", "exit_code", "wall_time_s")
_TAIL_COLUMNS = ("error", "run_dir", "log")


def member_label(config: str, overrides: Sequence[str]) -> str:
    """``playground-mlp model.hidden=[3]``: a member's name in tables and legends."""
    return " ".join([config, *overrides])


def rows_csv(rows: Sequence[dict[str, Any]], first_metrics: Sequence[str] = ()) -> str:
    """summary.csv: one line per run; every metric any run has gets a column."""
    metric_names = list(
        dict.fromkeys([*first_metrics, *sorted({name for row in rows for name in row["metrics"]})])
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*_ROW_COLUMNS, *metric_names, *_TAIL_COLUMNS])
    for row in rows:
        cells = [
            row["index"],
            row["config"],
            " ".join(row["overrides"]),
            "" if row["seed"] is None else row["seed"],
            row["status"],
            "" if row["exit_code"] is None else row["exit_code"],
            "" if row["wall_time_s"] is None else row["wall_time_s"],
        ]
        cells += [row["metrics"].get(name, "") for name in metric_names]
        cells += ["" if row[column] is None else row[column] for column in _TAIL_COLUMNS]
        writer.writerow(cells)
    return buffer.getvalue()


def seeds_csv(entries: Sequence[dict[str, Any]]) -> str:
    """seeds.csv: one line per member; mean, std and 95% interval of every metric."""
    metric_names = list(dict.fromkeys(name for entry in entries for name in entry["metrics"]))
    statistics_columns = ("mean", "std", "ci95_low", "ci95_high")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "config",
            "overrides",
            "seeds",
            "completed",
            *(f"{name}_{part}" for name in metric_names for part in statistics_columns),
        ]
    )
    for entry in entries:
        cells = [
            entry["config"],
            " ".join(entry["overrides"]),
            " ".join(str(seed) for seed in entry["seeds"]),
            entry["completed"],
        ]
        for name in metric_names:
            stats = entry["metrics"].get(name) or {}
            cells += ["" if stats.get(part) is None else stats[part] for part in statistics_columns]
        writer.writerow(cells)
    return buffer.getvalue()


def write_summary(
    sweep_dir: Path,
    header: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    seeds: bool,
    first_metrics: Sequence[str] = (),
) -> None:
    """Write summary.json, summary.csv and (when seeds are an axis) seeds.csv, atomically.

    Called after every finished run, so an interrupted sweep still leaves a true summary.
    """
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    aggregates = aggregate_seeds(rows) if seeds else []
    atomic_write_json(
        sweep_dir / "summary.json",
        {
            "schema_version": SUMMARY_SCHEMA_VERSION,
            **header,
            "counts": counts,
            "runs": list(rows),
            "seed_statistics": aggregates,
        },
    )
    atomic_write_text(sweep_dir / "summary.csv", rows_csv(rows, first_metrics))
    if seeds:
        atomic_write_text(sweep_dir / "seeds.csv", seeds_csv(aggregates))


# --------------------------------------------------------------------------- figures


def history_metric(metric: str) -> str:
    """The history column behind a compare metric: ``test.accuracy`` -> ``accuracy``."""
    name = metric.split(".")[-1]
    for prefix in ("test_", "val_"):
        name = name.removeprefix(prefix)
    return name


def mean_history(histories: Sequence[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Epoch-wise mean of several runs' histories (cut to the shortest run per column)."""
    columns = [
        key
        for key in histories[0]
        if key != "epoch" and all(isinstance(h.get(key), list) and h.get(key) for h in histories)
    ]
    mean: dict[str, list[float]] = {}
    for key in columns:
        length = min(len(h[key]) for h in histories)
        values = [[h[key][i] for h in histories] for i in range(length)]
        if all(all(is_number(v) for v in epoch) for epoch in values):
            mean[key] = [statistics.fmean(epoch) for epoch in values]
    return mean


def write_study_figures(
    sweep_dir: Path,
    rows: Sequence[dict[str, Any]],
    metric: str,
    goal: str,
    threshold: float | None,
    title: str = "",
) -> list[Path]:
    """The study's comparison: learning curves of the compare metric, one line per member
    (the mean over seeds), and the final value per member with its 95% interval.

    Returns the figures written (none when no run completed).
    """
    completed = [row for row in rows if row["status"] == "completed" and row.get("run_dir")]
    if not completed:
        return []
    one_config = len({row["config"] for row in completed}) == 1  # a grid: its values name members
    members: dict[str, list[dict[str, Any]]] = {}
    for row in completed:
        label = (
            " ".join(row["overrides"])
            if one_config and row["overrides"]
            else member_label(row["config"], row["overrides"])
        )
        members.setdefault(label, []).append(row)
    written = []
    base = history_metric(metric)
    curves = []
    for label, member_rows in members.items():
        histories = [
            h for h in (read_json_object(Path(r["run_dir"]) / "history.json") for r in member_rows) if h
        ]
        if histories:
            curves.append((label, mean_history(histories)))
    if any(base in h or f"val_{base}" in h for _, h in curves):
        seeds_note = " (mean over seeds)" if any(len(m) > 1 for m in members.values()) else ""
        figure = overlay_curves(
            curves, base, title=f"{title + ': ' if title else ''}{base.replace('_', ' ')}{seeds_note}"
        )
        written.append(_save(figure, sweep_dir / f"curves_{base}.png"))
    labels, means, errors = [], [], []
    for label, member_rows in members.items():
        values = [row["metrics"][metric] for row in member_rows if metric in row["metrics"]]
        if values:
            stats = seed_statistics(values)
            labels.append(label)
            means.append(stats["mean"])
            errors.append(0.0 if stats["std"] is None else stats["ci95_high"] - stats["mean"])
    if labels:
        figure = metric_comparison(labels, means, errors, metric, goal, threshold)
        figure.axes[0].set_title(title)
        written.append(_save(figure, sweep_dir / f"compare_{metric.replace('.', '_')}.png"))
    return written


def _save(figure: Any, target: Path) -> Path:
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return target
