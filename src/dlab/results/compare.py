"""``dlab compare``: saved runs side by side, differences from a baseline, and CI gates.

The comparison reads only what runs wrote (metrics.json, history), so it works on
runs from any machine and any time, and never imports TensorFlow. Everything the
user typed is checked before anything is computed or written: a gate with bad
syntax or an unknown metric, a baseline that is not one run, runs with no
metric in common, a curve no run recorded (exit code 2).

Layouts: the console table and Markdown put one metric per row and one run per
column for up to six runs (a baseline and a candidate with many metrics read
best that way; Markdown is what a CI job posts as a comment), and one run per
row beyond that (a sweep); CSV and JSON always put one run per row, like a
sweep's summary, for programs.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlab.errors import UsageError, did_you_mean
from dlab.results.curves import write_curve
from dlab.results.gates import Gate, GateOutcome, parse_gate
from dlab.results.index import SavedRun, default_label, expand_paths
from dlab.results.labels import differing_keys, label_runs, parameter_columns, parameter_value, short_names
from dlab.results.seeds_view import seed_groups, seed_lines
from dlab.results.tables import csv_table, fit_lines, fits, markdown_table, text_table
from dlab.results.vocabulary import TOP_LEVEL_RESULTS, format_number, key_metrics, signed

COLUMN_LIMIT = 6  # up to this many runs, the console and Markdown tables give each run a column


@dataclass
class Comparison:
    """What ``dlab compare`` found: the runs, the metrics shown, the baseline and the gates."""

    runs: list[SavedRun]
    metrics: list[str]
    baseline: SavedRun | None = None
    gates: list[GateOutcome] = field(default_factory=list)
    curve: Path | None = None
    notes: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)  # config keys shown beside the metrics
    chosen: bool = False  # the metrics were named (--metric): the console table shows them all

    @property
    def failed_gates(self) -> list[GateOutcome]:
        return [outcome for outcome in self.gates if outcome.failed]

    def diff(self, run: SavedRun, metric: str) -> float | None:
        """``run``'s value minus the baseline's, or None (no baseline, a value missing)."""
        if self.baseline is None or run is self.baseline:
            return None
        value, base = run.values.get(metric), self.baseline.values.get(metric)
        return None if value is None or base is None else value - base

    def cell(self, run: SavedRun, metric: str) -> str:
        value = run.values.get(metric)
        text = format_number(value)
        difference = self.diff(run, metric)
        if difference is None:
            return text
        if difference == 0:
            return f"{text} (same)"
        base = self.baseline.values[metric] if self.baseline else 0
        relative = f", {100 * difference / abs(base):+.1f}%" if base else ""
        return f"{text} ({signed(difference)}{relative})"

    def render(self, fmt: str) -> str:
        """The comparison as ``table``, ``csv``, ``json`` or ``markdown`` text."""
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2) + "\n"
        if fmt == "csv":
            headers = ["run", "run_dir", "status", *self.params, *self.metrics]
            if self.baseline is not None:
                headers += [f"{metric}_diff" for metric in self.metrics]
            rows = []
            for run in self.runs:
                row: list[Any] = [
                    run.label,
                    str(run.path),
                    run.status,
                    *(parameter_value(run, key) for key in self.params),
                    *(run.values.get(metric) for metric in self.metrics),
                ]
                if self.baseline is not None:
                    row += [self.diff(run, metric) for metric in self.metrics]
                rows.append(row)
            return csv_table(headers, rows)
        if fmt == "markdown":
            return self._markdown(*self._layout(self.metrics))
        shown, hidden = self._fitting_metrics()
        notes = [*self.notes]
        if hidden:
            notes.append(
                f"{len(hidden)} more metric{'s' if len(hidden) != 1 else ''} do not fit the terminal "
                f"({', '.join(hidden)}): --metric NAME shows chosen ones, --format csv or json all"
            )
        lines = [*(f"note: {note}" for note in notes), *self._gate_lines()]
        below = seed_lines(self.runs, self.metrics) + "".join(f"{line}\n" for line in lines)
        return text_table(*self._layout(shown)) + fit_lines(below)

    def _layout(self, metrics: Sequence[str]) -> tuple[list[str], list[list[str]]]:
        """The console/Markdown table's headers and rows: a column per run for a few runs (a row per
        parameter, by its full key, then per metric), else a row per run and a column per metric
        (and per ``--params`` key the labels do not already show, by its short name)."""
        statuses = [run.status + (" (smoke)" if run.smoke else "") for run in self.runs]
        if len(self.runs) <= COLUMN_LIMIT:  # a few runs: one column each, one row per metric
            headers = ["metric", *(self._header(run) for run in self.runs)]
            rows = [
                ["status", *statuses],
                *([key, *(parameter_value(run, key) for run in self.runs)] for key in self.params),
                *([metric, *(self.cell(run, metric) for run in self.runs)] for metric in metrics),
            ]
            return headers, rows
        labelled = set(differing_keys(self.runs))  # what the run column says already
        params = [key for key in self.params if key not in labelled]
        names = short_names(params)
        headers = ["run", "status", *(names[key] for key in params), *metrics]
        rows = [
            [
                self._header(run),
                status,
                *(parameter_value(run, key) for key in params),
                *(self.cell(run, metric) for metric in metrics),
            ]
            for run, status in zip(self.runs, statuses, strict=True)
        ]
        return headers, rows

    def _fitting_metrics(self) -> tuple[list[str], list[str]]:
        """``(shown, left out)``: with a column per metric and metrics nobody named, as many as fit
        the terminal, the runs' key metrics (test, else last-epoch validation) first."""
        if self.chosen or len(self.runs) <= COLUMN_LIMIT or fits(*self._layout(self.metrics)):
            return list(self.metrics), []
        key = dict.fromkeys(
            name for run in self.runs for name in key_metrics(run.metrics, TOP_LEVEL_RESULTS, dotted=True)
        )
        ordered = list(dict.fromkeys([*(name for name in key if name in self.metrics), *self.metrics]))
        count = len(ordered)
        while count > 1 and not fits(*self._layout(ordered[:count])):
            count -= 1
        shown = set(ordered[:count])
        return [name for name in self.metrics if name in shown], [n for n in self.metrics if n not in shown]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "params": self.params,
            "baseline": self.baseline.label if self.baseline else None,
            "runs": [
                {
                    "run": run.label,
                    "id": default_label(run.path),
                    "run_dir": str(run.path),
                    "status": run.status,
                    "smoke": run.smoke,
                    "params": {key: parameter_value(run, key) for key in self.params},
                    "is_baseline": run is self.baseline,
                    "values": {metric: run.values.get(metric) for metric in self.metrics},
                    **(
                        {"diff": {metric: self.diff(run, metric) for metric in self.metrics}}
                        if self.baseline is not None
                        else {}
                    ),
                }
                for run in self.runs
            ],
            "gates": [
                {
                    "run": outcome.run,
                    "expression": outcome.gate.source,
                    "failed": outcome.failed,
                    "left": outcome.left,
                    "right": outcome.right,
                    "values": outcome.values,
                    "problem": outcome.problem,
                }
                for outcome in self.gates
            ],
            "curve": str(self.curve) if self.curve else None,
            "notes": self.notes,
            "seeds": seed_groups(self.runs, self.metrics),
        }

    def _header(self, run: SavedRun) -> str:
        return f"{run.label} (baseline)" if run is self.baseline else run.label

    def _markdown(self, headers: list[str], rows: list[list[str]]) -> str:
        title = f"**dlab compare**: {len(self.runs)} run{'s' if len(self.runs) != 1 else ''}"
        if self.baseline is not None:
            title += f", baseline `{self.baseline.label}` (differences in parentheses)"
        parts = [title, "", markdown_table(headers, rows).rstrip("\n")]
        if self.gates:
            failed = self.failed_gates
            verdict = (
                f":x: {len(failed)} of {len(self.gates)} gate checks failed"
                if failed
                else f":white_check_mark: all {len(self.gates)} gate checks passed"
            )
            parts += ["", f"**Gates**: {verdict}"]
            parts += [f"- `{outcome.describe()}`" for outcome in failed]
        parts += [f"\n_note: {note}_" for note in self.notes]
        return "\n".join(parts) + "\n"

    def _gate_lines(self) -> list[str]:
        if not self.gates:
            return []
        failed = self.failed_gates
        if not failed:
            return [f"gates: all {len(self.gates)} checks passed"]
        return [
            f"gates: {len(failed)} of {len(self.gates)} checks FAILED:",
            *(f"  {outcome.describe()}" for outcome in failed),
        ]


def compare(
    paths: Sequence[str],
    *,
    metrics: Sequence[str] = (),
    baseline: str | None = None,
    fail_if: Sequence[str] = (),
    curve: str | None = None,
    curve_output: str | None = None,
    params: Sequence[str] = (),
) -> Comparison:
    """Compare saved runs: choose the metrics, take differences, judge the gates, draw a curve.

    Args:
        paths: run directories, metrics.json files, sweep directories or folders of runs.
        metrics: metric names or glob patterns (``test.*``); default: every numeric metric
            that all completed runs share.
        baseline: a run to take differences from and that ``baseline`` in gates refers to;
            added to the runs if it is not among them.
        fail_if: gate expressions (see :mod:`dlab.results.gates`); each is judged on every run but
            the baseline.
        curve: a history column (``loss``, ``val_loss``) to overlay across runs as a PNG.
        curve_output: where to write that PNG (default ``compare-<curve>.png``).
        params: config keys to show beside the metrics (``--params``); the keys whose
            values differ across the runs are always shown, and name the runs.

    Raises:
        UsageError: bad paths, baseline, metric names, gate syntax or curve (nothing written).
    """
    gates = [parse_gate(text) for text in fail_if]  # syntax first: the cheapest mistake to report
    runs = expand_paths(paths)
    base = _baseline(baseline, runs) if baseline else None
    if base is not None and all(run.path.resolve() != base.path.resolve() for run in runs):
        runs.insert(0, base)
    elif base is not None:
        base = next(run for run in runs if run.path.resolve() == base.path.resolve())
    columns = parameter_columns(runs, params)
    label_runs(runs)
    notes = [f"{run.label}: {'; '.join(run.problems)}" for run in runs if run.problems]

    available = available_metrics(runs)
    chosen = select_metrics(metrics, runs, available)
    for gate in gates:
        _check_gate(gate, available, base)
    comparison = Comparison(
        runs=runs, metrics=chosen, baseline=base, notes=notes, params=columns, chosen=bool(metrics)
    )
    for gate in gates:
        for run in runs:
            if run is not base:
                comparison.gates.append(gate.judge(run.label, run.values, base.values if base else None))
    if curve:
        comparison.curve = write_curve(runs, curve, Path(curve_output or f"compare-{curve}.png"))
    return comparison


def _baseline(reference: str, runs: list[SavedRun]) -> SavedRun:
    try:
        found = expand_paths([reference], what="baseline")
    except UsageError as error:
        raise UsageError(f"--baseline: {error}") from None
    if len(found) != 1:
        raise UsageError(
            f"--baseline '{reference}' holds {len(found)} runs; give one run directory or its metrics.json."
        )
    if not found[0].values:
        raise UsageError(
            f"--baseline '{reference}' is not a finished run: it has no metrics "
            f"({'; '.join(found[0].problems) or 'status ' + found[0].status})."
        )
    return found[0]


def available_metrics(runs: list[SavedRun]) -> list[str]:
    """Every metric any run has, in first-seen order."""
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run.values))
    return list(names)


def select_metrics(requested: Sequence[str], runs: list[SavedRun], available: list[str]) -> list[str]:
    if requested:
        chosen: list[str] = []
        for pattern in requested:
            if any(char in pattern for char in "*?["):
                matches = [name for name in available if fnmatch.fnmatchcase(name, pattern)]
            else:
                matches = [pattern] if pattern in available else []
            if not matches:
                raise UsageError(
                    f"--metric '{pattern}' matches no metric of these runs."
                    + did_you_mean(pattern, available)
                    + " "
                    + _listing(available)
                )
            chosen.extend(name for name in matches if name not in chosen)
        return chosen
    finished = [run for run in runs if run.status == "completed" and run.values] or [
        run for run in runs if run.values
    ]
    if not finished:
        raise UsageError(
            "None of these runs has any metrics yet: "
            + ", ".join(
                f"{run.label} ({run.status}{': ' + '; '.join(run.problems) if run.problems else ''})"
                for run in runs
            )
            + "."
        )
    shared = [name for name in finished[0].values if all(name in run.values for run in finished)]
    if not shared:
        per_run = "; ".join(
            f"{run.label}: {', '.join(list(run.values)[:8])}" + (" ..." if len(run.values) > 8 else "")
            for run in finished
        )
        raise UsageError(
            "These runs have no metric in common, so there is nothing to compare "
            f"({per_run}). Compare runs of similar experiments, or name metrics "
            "with --metric (runs without one show '-')."
        )
    return shared


def _check_gate(gate: Gate, available: list[str], baseline: SavedRun | None) -> None:
    for name in gate.metric_names():
        if name not in available:
            raise UsageError(
                f"--fail-if \"{gate.source}\": unknown metric '{name}'."
                + did_you_mean(name, available)
                + " "
                + _listing(available)
            )
    if gate.uses_baseline() and baseline is None:
        raise UsageError(
            f"--fail-if \"{gate.source}\" uses 'baseline', but no --baseline RUN "
            "was given. Add --baseline with the run to compare against."
        )


def _listing(available: list[str]) -> str:
    if not available:
        return "These runs have no numeric metrics."
    return "Available metrics: " + ", ".join(available) + "."
