"""``dlab check``: does a run reproduce the published numbers in its config's ``reference:`` block?

A config's ``reference`` names results as the lab reports and books state them
(``test_accuracy``, ``val_accuracy``, ``final_cost``, ``kfold_mean_val_mae``,
``epoch1_val_accuracy`` ...). Each name is looked up in the run's metrics.json
in this order, the first match wins:

1. a top-level number with the same name (``final_cost``, ``initial_cost``, the
   Playground's own ``test_loss``), recorded by experiments that report in the
   reference's own terms;
2. ``test_<m>`` -> ``test.<m>``; ``val_<m>`` -> ``final.val.<m>`` (the last epoch);
   ``train_<m>`` -> ``final.train.<m>``; ``kfold_mean_val_<m>`` -> ``kfold.mean.<m>``;
3. ``epoch<N>_<column>`` and ``<column>_at_epoch_<N>`` -> the history column at
   epoch N (``cost`` means the history's ``loss``).

A reference with no such metric is reported as "no metric" (not a failure: the
experiment does not measure it). The tolerance is relative by default (5%: a
reference of 0.714 accepts 0.678 to 0.750), because references range from
accuracies near 1 to costs near 0.1 and mean absolute errors near 2.5; ``0.01``
without a percent sign is absolute, in the metric's own units. Both sides count:
a run far better than the reference does not reproduce it either.

Smoke runs (and any run on synthetic data) are "not comparable": a synthetic twin
cannot reach a published number, so they do not fail the check unless
``include_smoke`` asks for it. A run that did not complete cannot prove anything
and fails the check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dlab.errors import UsageError
from dlab.results.index import SavedRun, expand_paths
from dlab.results.tables import csv_table, markdown_table, text_table
from dlab.results.vocabulary import format_number, lookup, signed

DEFAULT_TOLERANCE = "5%"

WITHIN, OUTSIDE, NOT_COMPARABLE, NO_METRIC, NO_REFERENCE, NOT_FINISHED = (
    "within",
    "OUTSIDE",
    "not comparable",
    "no metric",
    "no reference",
    "not finished",
)
FAILING = (OUTSIDE, NOT_FINISHED)


@dataclass(frozen=True)
class Tolerance:
    """How far a result may be from its reference: relative (a fraction of it) or absolute."""

    amount: float
    relative: bool

    def allowed(self, reference: float) -> float:
        return self.amount * abs(reference) if self.relative else self.amount

    def __str__(self) -> str:
        return f"{format_number(self.amount * 100)}%" if self.relative else format_number(self.amount)


def parse_tolerance(text: str) -> Tolerance:
    """``"5%"`` -> 5% of the reference; ``"0.01"`` -> 0.01 in the metric's units.

    Raises:
        UsageError: not a non-negative number, with or without a percent sign.
    """
    raw = text.strip()
    relative = raw.endswith("%")
    try:
        amount = float(raw.removesuffix("%"))
    except ValueError:
        amount = -1.0
    if not amount >= 0 or amount == float("inf"):
        raise UsageError(
            f"--tolerance '{text}' is not a tolerance. Give a percentage of the "
            "reference (e.g. 5%) or an absolute amount in the metric's units (e.g. 0.01)."
        )
    return Tolerance(amount / 100 if relative else amount, relative)


@dataclass(frozen=True)
class ReferenceCheck:
    """One reference of one run, judged."""

    run: str
    reference: str  # the key in the config's reference block ("" when there is none)
    metric: str | None  # where it was found in metrics.json / history
    expected: float | None
    actual: float | None
    tolerance: Tolerance
    result: str
    source: str = ""
    note: str = ""

    @property
    def difference(self) -> float | None:
        if self.expected is None or self.actual is None:
            return None
        return self.actual - self.expected

    @property
    def failed(self) -> bool:
        return self.result in FAILING


@dataclass
class CheckReport:
    checks: list[ReferenceCheck]

    @property
    def failed(self) -> list[ReferenceCheck]:
        return [check for check in self.checks if check.failed]

    def render(self, fmt: str) -> str:
        if fmt == "json":
            return (
                json.dumps(
                    {
                        "checks": [
                            {
                                "run": c.run,
                                "reference": c.reference or None,
                                "metric": c.metric,
                                "expected": c.expected,
                                "actual": c.actual,
                                "difference": c.difference,
                                "tolerance": str(c.tolerance),
                                "result": c.result,
                                "failed": c.failed,
                                "source": c.source,
                                "note": c.note,
                            }
                            for c in self.checks
                        ],
                        "failed": len(self.failed),
                    },
                    indent=2,
                )
                + "\n"
            )
        headers = [
            "run",
            "reference",
            "metric",
            "expected",
            "actual",
            "difference",
            "tolerance",
            "result",
            "source",
        ]
        if fmt == "csv":
            return csv_table(
                headers,
                [
                    [
                        c.run,
                        c.reference,
                        c.metric,
                        c.expected,
                        c.actual,
                        c.difference,
                        str(c.tolerance),
                        c.result,
                        c.source,
                    ]
                    for c in self.checks
                ],
            )
        rows = [
            [
                c.run,
                c.reference or "-",
                c.metric or "-",
                format_number(c.expected),
                format_number(c.actual),
                signed(c.difference),
                str(c.tolerance),
                c.result + (f" ({c.note})" if c.note else ""),
                c.source,
            ]
            for c in self.checks
        ]
        table = markdown_table(headers, rows) if fmt == "markdown" else text_table(headers, rows)
        within = sum(c.result == WITHIN for c in self.checks)
        summary = (
            f"{within} within tolerance, {len(self.failed)} failing, "
            f"{len(self.checks) - within - len(self.failed)} not checked"
        )
        return table + ("\n" if fmt == "markdown" else "") + f"check: {summary}\n"


def check_runs(
    paths: Sequence[str], *, tolerance: str = DEFAULT_TOLERANCE, include_smoke: bool = False
) -> CheckReport:
    """Compare every run's results with the ``reference:`` block of its saved config.yaml.

    Args:
        paths: run directories, metrics.json files or sweep directories.
        tolerance: ``"5%"`` (relative to the reference) or ``"0.01"`` (absolute).
        include_smoke: also judge smoke runs and runs on synthetic data (they normally
            cannot reach a published number and are reported as not comparable).

    Raises:
        UsageError: bad paths or tolerance.
    """
    allowed = parse_tolerance(tolerance)
    checks: list[ReferenceCheck] = []
    for run in expand_paths(paths):
        checks.extend(_check_run(run, allowed, include_smoke))
    return CheckReport(checks)


def _check_run(run: SavedRun, tolerance: Tolerance, include_smoke: bool) -> list[ReferenceCheck]:
    references = _references(run.config.get("reference"))
    if not references:
        why = (
            "config.yaml is missing or unreadable" if not run.config else "its config has no reference values"
        )
        return [ReferenceCheck(run.label, "", None, None, None, tolerance, NO_REFERENCE, note=why)]
    synthetic = run.smoke or (run.metrics.get("data") or {}).get("source") == "synthetic"
    checks = []
    for key, (expected, source) in references.items():
        metric, actual = resolve_reference(key, run)
        common = dict(
            run=run.label,
            reference=key,
            metric=metric,
            expected=expected,
            actual=actual,
            tolerance=tolerance,
            source=source,
        )
        if run.status != "completed":
            checks.append(ReferenceCheck(**common, result=NOT_FINISHED, note=f"status {run.status}"))
        elif synthetic and not include_smoke:
            checks.append(
                ReferenceCheck(
                    **common,
                    result=NOT_COMPARABLE,
                    note="smoke run on synthetic data" if run.smoke else "synthetic data",
                )
            )
        elif actual is None:
            checks.append(
                ReferenceCheck(**common, result=NO_METRIC, note="this experiment does not record it")
            )
        else:
            inside = abs(actual - expected) <= tolerance.allowed(expected) + 1e-12
            checks.append(ReferenceCheck(**common, result=WITHIN if inside else OUTSIDE))
    return checks


def _references(block: Any) -> dict[str, tuple[float, str]]:
    """``{key: (value, source)}`` from a saved config's reference block, skipping nulls."""
    if not isinstance(block, dict):
        return {}
    found = {}
    for key, entry in block.items():
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("value"), (int, float))
            and not isinstance(entry.get("value"), bool)
        ):
            found[str(key)] = (float(entry["value"]), str(entry.get("source") or ""))
        elif isinstance(entry, (int, float)) and not isinstance(entry, bool):
            found[str(key)] = (float(entry), "")
    return found


_EPOCH_FIRST = re.compile(r"^epoch(\d+)_(\w+)$")
_EPOCH_LAST = re.compile(r"^(\w+?)_at_epoch_?(\d+)$")


def resolve_reference(key: str, run: SavedRun) -> tuple[str | None, float | None]:
    """Find a reference key's value in a run: ``(where, value)``, or ``(None, None)``.

    The rules are listed in this module's docstring.
    """
    path, value = lookup(run.values, key)
    if path is not None:
        return path, value
    match = _EPOCH_FIRST.match(key)
    epoch, column = (int(match.group(1)), match.group(2)) if match else (None, None)
    match = _EPOCH_LAST.match(key)
    if match:
        epoch, column = int(match.group(2)), match.group(1)
    if column is not None and epoch is not None:
        column = "loss" if column == "cost" else column.replace("cost", "loss")
        series = run.history.get(column) or []
        if 1 <= epoch <= len(series) and series[epoch - 1] == series[epoch - 1]:
            return f"history {column} at epoch {epoch}", series[epoch - 1]
    return None, None
