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
   epoch N (``cost`` means the history's ``loss``);
4. ``best_<column>`` -> the best epoch's value (``best_epoch.<column>.value``).

A reference with no such metric is reported as "no metric" (not a failure: the
experiment does not measure it). Each reference is judged by its kind (see
:mod:`dlab.results.references`): a point within a tolerance, a bound (``max``,
``min``), a band (``low``/``high``); a ``seed_dependent`` one is shown, never
failed. A point's tolerance is its own, else the command's, relative by default
(5%: a reference of 0.714 accepts 0.678 to 0.750), because references range from
accuracies near 1 to costs near 0.1 and mean absolute errors near 2.5; ``0.01``
without a percent sign is absolute, in the metric's own units. Both sides count:
a run far better than a point reference does not reproduce it either. Every row
says why it passed or failed.

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

from dlab.results.index import SavedRun, expand_paths
from dlab.results.references import Reference, Tolerance, parse_tolerance, read_references
from dlab.results.tables import csv_table, markdown_table, text_table
from dlab.results.vocabulary import format_number, lookup, signed

__all__ = ["CheckReport", "ReferenceCheck", "Tolerance", "check_runs", "parse_tolerance", "resolve_reference"]

DEFAULT_TOLERANCE = "5%"

WITHIN, OUTSIDE, NOT_COMPARABLE, NO_METRIC, NO_REFERENCE, NOT_FINISHED, SEED_DEPENDENT = (
    "within",
    "OUTSIDE",
    "not comparable",
    "no metric",
    "no reference",
    "not finished",
    "seed-dependent",
)
FAILING = (OUTSIDE, NOT_FINISHED)


@dataclass(frozen=True)
class ReferenceCheck:
    """One reference of one run, judged: what was expected, what was measured, and why it passed."""

    run: str
    reference: str  # the key in the config's reference block ("" when there is none)
    metric: str | None  # where it was found in metrics.json / history
    expected: float | None  # a point's value or a bound (a band's lower end)
    actual: float | None
    tolerance: str  # a point's tolerance ("5%", "0.01"); "-" for bounds and bands
    result: str
    source: str = ""
    note: str = ""
    kind: str = "point"
    expected_text: str = ""  # "0.714", "<= 0.177", ">= 0.9", "0.9855 to 0.99"
    why: str = ""

    @property
    def difference(self) -> float | None:
        if self.expected is None or self.actual is None or self.kind == "band":
            return None
        return self.actual - self.expected

    @property
    def failed(self) -> bool:
        return self.result in FAILING


_HEADERS = ["run", "reference", "metric", "expected", "actual", "difference", "tolerance", "result", "why"]


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
                    {"checks": [_as_dict(c) for c in self.checks], "failed": len(self.failed)}, indent=2
                )
                + "\n"
            )
        if fmt == "csv":
            return csv_table(
                [*_HEADERS, "kind", "source"],
                [
                    [c.run, c.reference, c.metric, c.expected_text or c.expected, c.actual, c.difference]
                    + [c.tolerance, c.result, c.why or c.note, c.kind, c.source]
                    for c in self.checks
                ],
            )
        rows = [
            [
                c.run,
                c.reference or "-",
                c.metric or "-",
                c.expected_text or format_number(c.expected),
                format_number(c.actual),
                signed(c.difference),
                c.tolerance,
                c.result + (f" ({c.note})" if c.note else ""),
                c.why or "-",
            ]
            for c in self.checks
        ]
        if fmt == "markdown":
            table = markdown_table(
                [*_HEADERS, "source"], [[*row, c.source] for row, c in zip(rows, self.checks, strict=True)]
            )
            return table + "\n" + f"check: {self._summary()}\n"
        sources = _sources(self.checks)
        return text_table(_HEADERS, rows) + sources + f"check: {self._summary()}\n"

    def _summary(self) -> str:
        within = sum(c.result == WITHIN for c in self.checks)
        return (
            f"{within} within tolerance, {len(self.failed)} failing, "
            f"{len(self.checks) - within - len(self.failed)} not checked"
        )


def _as_dict(check: ReferenceCheck) -> dict[str, Any]:
    return {
        "run": check.run,
        "reference": check.reference or None,
        "kind": check.kind,
        "metric": check.metric,
        "expected": check.expected,
        "expected_text": check.expected_text,
        "actual": check.actual,
        "difference": check.difference,
        "tolerance": check.tolerance,
        "result": check.result,
        "why": check.why,
        "failed": check.failed,
        "source": check.source,
        "note": check.note,
    }


def _sources(checks: list[ReferenceCheck]) -> str:
    """Each reference's source once, under the table: long sentences would wreck its columns."""
    seen: dict[str, str] = {}
    for check in checks:
        if check.reference and check.source:
            seen.setdefault(check.reference, check.source)
    return "".join(f"  {key}: {source}\n" for key, source in seen.items())


def check_runs(
    paths: Sequence[str], *, tolerance: str = DEFAULT_TOLERANCE, include_smoke: bool = False
) -> CheckReport:
    """Compare every run's results with the ``reference:`` block of its saved config.yaml.

    Args:
        paths: run directories, metrics.json files or sweep directories.
        tolerance: for point references without their own: ``"5%"`` (relative to the
            reference) or ``"0.01"`` (absolute).
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
    references = read_references(run.config.get("reference"))
    if not references:
        why = (
            "config.yaml is missing or unreadable" if not run.config else "its config has no reference values"
        )
        return [ReferenceCheck(run.label, "", None, None, None, "-", NO_REFERENCE, note=why)]
    synthetic = run.smoke or (run.metrics.get("data") or {}).get("source") == "synthetic"
    return [_judge(run, reference, tolerance, synthetic and not include_smoke) for reference in references]


def _judge(run: SavedRun, reference: Reference, tolerance: Tolerance, skip_synthetic: bool) -> ReferenceCheck:
    metric, actual = resolve_reference(reference.key, run)
    common = dict(
        run=run.label,
        reference=reference.key,
        metric=metric,
        expected=reference.value if reference.value is not None else reference.low,
        actual=actual,
        tolerance=reference.tolerance_text(tolerance),
        source=reference.source,
        kind=reference.kind,
        expected_text=reference.expected_text(tolerance),
    )
    if run.status != "completed":
        return ReferenceCheck(**common, result=NOT_FINISHED, note=f"status {run.status}")
    if skip_synthetic:
        note = "smoke run on synthetic data" if run.smoke else "synthetic data"
        return ReferenceCheck(**common, result=NOT_COMPARABLE, note=note)
    if actual is None:
        return ReferenceCheck(**common, result=NO_METRIC, note="this experiment does not record it")
    inside, why = reference.judge(actual, tolerance)
    if reference.seed_dependent:
        why = f"one report's number from one random init, shown but not judged ({why})"
        return ReferenceCheck(**common, result=SEED_DEPENDENT, why=why)
    return ReferenceCheck(**common, result=WITHIN if inside else OUTSIDE, why=why)


_EPOCH_FIRST = re.compile(r"^epoch(\d+)_(\w+)$")
_EPOCH_LAST = re.compile(r"^(\w+?)_at_epoch_?(\d+)$")


def resolve_reference(key: str, run: SavedRun) -> tuple[str | None, float | None]:
    """Find a reference key's value in a run: ``(where, value)``, or ``(None, None)``.

    The rules are listed in this module's docstring.
    """
    values = run.values
    path, value = lookup(values, key)
    if path is not None:
        return path, value
    best = f"best_epoch.{key.removeprefix('best_')}.value"
    if key.startswith("best_") and best in values:  # best_val_accuracy: the best epoch's value
        return best, values[best]
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
