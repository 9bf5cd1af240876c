"""The pieces of ``dlab report``'s page: the key table, the details table, seeds, the study chart, colours.

Kept apart from the page assembly (:mod:`dlab.results.report`) so each piece can
be read on its own: what goes in the narrow key table and what goes to the
details, how a study's compared metric becomes a bar chart with its threshold,
how a run gets its one colour.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlab.fileio import read_json
from dlab.plots import metric_comparison, run_colors
from dlab.results.check import resolve_reference
from dlab.results.index import SavedRun
from dlab.results.labels import member_key, parameter_value
from dlab.results.seeds import format_interval, seed_statistics
from dlab.results.seeds_view import seed_groups, seed_members
from dlab.results.vocabulary import TOP_LEVEL_RESULTS, format_number, key_metrics

KEY_METRIC_LIMIT = 5
"""Metrics in the key table; the rest are in the details table, so the key table fits the page."""


def escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def number_cell(value: Any) -> str:
    shown = format_number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"
    return f'<td class="num">{escape(shown)}</td>'


def is_synthetic(run: SavedRun) -> bool:
    """A smoke run, or any run on synthetic data: its numbers say nothing about the real data."""
    return run.smoke or (run.metrics.get("data") or {}).get("source") == "synthetic"


def status_span(run: SavedRun) -> str:
    smoke = ' <span class="smoke">smoke: synthetic data</span>' if is_synthetic(run) else ""
    return f'<span class="status-{escape(run.status)}">{escape(run.status)}</span>{smoke}'


def colour_key(run: SavedRun, grouped: bool) -> str:
    """What a colour belongs to: the grid point when runs are grouped over seeds, else the run."""
    return member_key(run) if grouped else run.label


def report_colors(runs: Sequence[SavedRun]) -> dict[str, str]:
    """One colour per run (or per grid point over seeds), in the order the runs are shown.

    The keys are the labels the charts use, so the swatch beside a run's name and its
    line and bar in every chart share one colour.
    """
    grouped = bool(seed_members(runs))
    return run_colors(colour_key(run, grouped) for run in runs)


def swatch(run: SavedRun, colors: dict[str, str], grouped: bool | None = None) -> str:
    colour = colors.get(member_key(run)) or colors.get(run.label) or "#999999"
    return f'<span class="swatch" style="background:{escape(colour)}"></span>'


def smoke_banner(runs: Sequence[SavedRun]) -> str:
    smoke = [run for run in runs if is_synthetic(run)]
    if not smoke:
        return ""
    which = "All runs are" if len(smoke) == len(runs) else f"{len(smoke)} of {len(runs)} runs are"
    return (
        f'<p class="banner"><span class="smoke">smoke: synthetic data</span> {which} smoke runs on '
        "synthetic data: they show that the pipeline works, "
        "their numbers say nothing about the real data.</p>"
    )


def key_columns(runs: Sequence[SavedRun], metrics: Sequence[str], study: dict[str, Any] | None) -> list[str]:
    """The few of ``metrics`` the key table shows: a study's compared metric, then the runs' key
    metrics (:func:`dlab.results.vocabulary.key_metrics`: test, then last-epoch val and train), then
    the rest, up to :data:`KEY_METRIC_LIMIT`."""
    key: dict[str, None] = {}
    for run in runs:
        key.update(dict.fromkeys(key_metrics(run.metrics, TOP_LEVEL_RESULTS, dotted=True)))
    ordered = list(dict.fromkeys([*(name for name in key if name in metrics), *metrics]))
    if study and study.get("metric_name") in metrics:
        ordered.remove(study["metric_name"])
        ordered.insert(0, study["metric_name"])
    return ordered[:KEY_METRIC_LIMIT]


def key_table(runs: Sequence[SavedRun], metrics: Sequence[str], colors: dict[str, str]) -> str:
    """Run, status and the key metrics: a fixed-layout table as wide as the page, never wider."""
    head = "".join(f"<th>{escape(name)}</th>" for name in ("run", "status", *metrics))
    rows = []
    for index, run in enumerate(runs):
        cells = [
            f'<td>{swatch(run, colors)}<a href="#run-{index}">{escape(run.label)}</a></td>',
            f"<td>{status_span(run)}</td>",
            *(number_cell(run.values.get(metric)) for metric in metrics),
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="key" id="summary"><colgroup><col class="label"></colgroup>'
        f"<tr>{head}</tr>{''.join(rows)}</table>"
    )


def details_table(
    runs: Sequence[SavedRun], metrics: Sequence[str], key: Sequence[str], params: Sequence[str]
) -> str:
    """Everything else per run: experiment, data, start, wall time, parameters, the other metrics."""
    rest = [name for name in metrics if name not in key]
    wall_column = "wall_time_s" not in metrics
    headers = ["run", "experiment", "data", "started", *(["wall time (s)"] if wall_column else [])]
    headers += [*params, *rest]
    rows = []
    for run in runs:
        data = run.metrics.get("data") or {}
        cells = [
            f"<td>{escape(run.label)}</td>",
            f"<td>{escape(run.experiment)}</td>",
            f"<td>{escape(str(data.get('dataset') or '-'))} ({escape(str(data.get('source') or '-'))})</td>",
            f"<td>{escape(str(run.metrics.get('started_at') or '-'))}</td>",
            *([number_cell(run.metrics.get("wall_time_s"))] if wall_column else []),
            *(f"<td>{escape(parameter_value(run, name))}</td>" for name in params),
            *(number_cell(run.values.get(metric)) for metric in rest),
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    return f'<div class="scroll"><table id="details"><tr>{head}</tr>{"".join(rows)}</table></div>'


def seeds_table(runs: Sequence[SavedRun], metrics: Sequence[str]) -> str:
    """Grid points over seeds: mean +- std and the 95% interval ('*': clipped to the metric's range)."""
    groups = seed_groups(runs, metrics)
    if not groups:
        return ""
    head = "".join(f"<th>{escape(name)}</th>" for name in ("grid point", "seeds", *metrics))
    rows = []
    for group in groups:
        cells = [f"<td>{escape(group['member'])}</td>", f"<td>{group['completed']} of {group['runs']}</td>"]
        cells += [f"<td>{escape(format_interval(group['metrics'][metric]))}</td>" for metric in metrics]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if any(stats.get("clipped") for group in groups for stats in group["metrics"].values()):
        note = (
            '<p class="meta">* the interval is clipped to the metric\'s range (an accuracy, AUC or IoU lies '
            "in [0, 1], a loss is at least 0): with few seeds, mean +- t * std / sqrt(n) reaches past it.</p>"
        )
    return (
        "<h3>Over seeds (mean +- std, 95% interval)</h3>"
        f'<div class="scroll"><table id="seeds"><tr>{head}</tr>{"".join(rows)}</table></div>{note}'
    )


def study_block(paths: Sequence[str]) -> dict[str, Any] | None:
    """The ``compare:`` block of the first sweep directory among ``paths`` that has one."""
    for raw in paths:
        data, _ = read_json(Path(raw).expanduser() / "summary.json")
        block = data.get("compare") if isinstance(data, dict) else None
        if isinstance(block, dict) and block.get("metric"):
            study = dict(block)
            study["study"] = data.get("study")
            return study
    return None


def study_chart(
    runs: Sequence[SavedRun], study: dict[str, Any] | None, colors: dict[str, str]
) -> tuple[bytes, str] | None:
    """The study's compared metric per run (or grid point: the seed mean and its interval) as bars,
    best first, with the study's threshold as a dashed line."""
    if not study:
        return None
    metric = str(study["metric"])
    grouped = bool(seed_members(runs))
    values: dict[str, list[float]] = {}
    for run in runs:
        found, value = resolve_reference(metric, run)
        if value is not None and run.status == "completed":
            study.setdefault("metric_name", found)
            values.setdefault(colour_key(run, grouped), []).append(value)
    if not values:
        return None
    labels, means, errors = [], [], []
    for label, numbers in values.items():
        stats = seed_statistics(numbers, metric)
        labels.append(label)
        means.append(stats["mean"])
        low, high = stats["ci95_low"], stats["ci95_high"]
        errors.append((0.0, 0.0) if low is None else (stats["mean"] - low, high - stats["mean"]))
    threshold = study.get("threshold")
    figure = metric_comparison(
        labels, means, errors, metric, str(study.get("goal") or "min"), threshold, colors=colors
    )
    name = study.get("study") or "study"
    figure.axes[0].set_title(
        f"{name}: {metric}" + (f" (threshold {threshold:g})" if threshold is not None else "")
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue(), f"{metric} per {'grid point' if grouped else 'run'}, best first"
