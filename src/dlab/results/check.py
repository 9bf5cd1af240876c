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
without a percent sign is absolute, in the metric's own units. A point counts on
both sides (a run far better does not reproduce it either) unless it is one-sided
(``side: at_least`` / ``at_most``: a published result a run may beat). Every row
says why it passed or failed.

A run is "not comparable" with a reference, and is not judged, when it is a smoke
run or ran on synthetic data (a synthetic twin cannot reach a published number;
``include_smoke`` judges those anyway), or when its config differs from the
conditions the reference states (``epochs``, ``data_source``, ``train_samples`` ...:
2 epochs on a 600-sample file say nothing about a number for 10 epochs on the
whole download); the row names each condition that differs. A run that did not
complete cannot prove anything and fails the check.

The exit code (:attr:`CheckReport.exit_code`): 0 when every reference judged is met
and every run was comparable, 1 when a result is outside its reference or a run did
not complete, 3 when nothing failed but some reference could not be judged because
the run was not comparable (2 is bad input, before anything is read).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dlab.results.index import SavedRun, default_label, expand_paths
from dlab.results.labels import label_runs
from dlab.results.references import (
    Reference,
    Tolerance,
    parse_tolerance,
    read_references,
    unmet_conditions,
)
from dlab.results.tables import csv_table, fit_lines, markdown_table, text_table
from dlab.results.vocabulary import format_number, lookup

__all__ = ["CheckReport", "ReferenceCheck", "Tolerance", "check_runs", "parse_tolerance", "resolve_reference"]

DEFAULT_TOLERANCE = "5%"

EXIT_MET, EXIT_FAILED, EXIT_NOT_COMPARABLE = 0, 1, 3
"""``dlab check``'s exit codes besides 2 (bad input): met, failed, not comparable (nothing failed)."""

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

    run: str  # the run's label (what tells it apart from the other runs checked)
    reference: str  # the key in the config's reference block ("" when there is none)
    metric: str | None  # where it was found in metrics.json / history
    expected: float | None  # a point's value or a bound (a band's lower end)
    actual: float | None
    tolerance: str  # a point's tolerance ("5%", "0.01"); "-" for bounds and bands
    result: str
    source: str = ""
    note: str = ""
    kind: str = "point"
    expected_text: str = ""  # "0.714", "0.714 or above", "<= 0.177", ">= 0.9", "0.9855 to 0.99"
    why: str = ""
    side: str = "both"  # a point's sides (both, at_least, at_most)
    id: str = ""  # <config>/<folder>, the run directory's last two parts

    @property
    def difference(self) -> float | None:
        if self.expected is None or self.actual is None or self.kind == "band":
            return None
        return self.actual - self.expected

    @property
    def failed(self) -> bool:
        return self.result in FAILING


_HEADERS = ["run", "reference", "expected", "actual", "tolerance", "result", "why"]
"""The console and Markdown columns: what a reader needs to see why a row passed, narrow enough for
a terminal (a point's difference is in ``why``; CSV and JSON add the metric's path, the difference,
the run's id, the reference's kind, side and source)."""
_CSV_HEADERS = ["run", "id", "reference", "metric", "expected", "actual", "difference", "tolerance"]
_CSV_HEADERS += ["result", "why", "kind", "side", "source"]


@dataclass
class CheckReport:
    checks: list[ReferenceCheck]

    @property
    def failed(self) -> list[ReferenceCheck]:
        return [check for check in self.checks if check.failed]

    @property
    def not_comparable(self) -> list[ReferenceCheck]:
        return [check for check in self.checks if check.result == NOT_COMPARABLE]

    @property
    def exit_code(self) -> int:
        """1 when anything failed; else 3 when some run was not comparable; else 0."""
        if self.failed:
            return EXIT_FAILED
        return EXIT_NOT_COMPARABLE if self.not_comparable else EXIT_MET

    def render(self, fmt: str) -> str:
        if fmt == "json":
            return (
                json.dumps(
                    {
                        "checks": [_as_dict(c) for c in self.checks],
                        "failed": len(self.failed),
                        "not_comparable": len(self.not_comparable),
                        "exit_code": self.exit_code,
                    },
                    indent=2,
                )
                + "\n"
            )
        if fmt == "csv":
            return csv_table(
                _CSV_HEADERS,
                [
                    [c.run, c.id, c.reference, c.metric, c.expected_text or c.expected, c.actual]
                    + [c.difference, c.tolerance, c.result, c.why or c.note, c.kind, c.side, c.source]
                    for c in self.checks
                ],
            )
        rows = [
            [
                c.run,
                c.reference or "-",
                c.expected_text or format_number(c.expected),
                format_number(c.actual),
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
        return text_table(_HEADERS, rows) + fit_lines(sources + f"check: {self._summary()}\n")

    def _summary(self) -> str:
        within = sum(c.result == WITHIN for c in self.checks)
        apart = len(self.not_comparable)
        return (
            f"{within} within tolerance, {len(self.failed)} failing, {apart} not comparable, "
            f"{len(self.checks) - within - len(self.failed) - apart} not checked"
        )


def _as_dict(check: ReferenceCheck) -> dict[str, Any]:
    return {
        "run": check.run,
        "id": check.id,
        "reference": check.reference or None,
        "kind": check.kind,
        "side": check.side,
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
            cannot reach a published number and are reported as not comparable), whatever
            conditions their references state.

    Raises:
        UsageError: bad paths or tolerance.
    """
    allowed = parse_tolerance(tolerance)
    checks: list[ReferenceCheck] = []
    runs = expand_paths(paths)
    label_runs(runs)  # named as compare and runs name them; the id is in CSV and JSON
    for run in runs:
        checks.extend(_check_run(run, allowed, include_smoke))
    return CheckReport(checks)


def _check_run(run: SavedRun, tolerance: Tolerance, include_smoke: bool) -> list[ReferenceCheck]:
    references = read_references(run.config.get("reference"))
    if not references:
        why = (
            "config.yaml is missing or unreadable" if not run.config else "its config has no reference values"
        )
        return [
            ReferenceCheck(
                run.label, "", None, None, None, "-", NO_REFERENCE, note=why, id=default_label(run.path)
            )
        ]
    synthetic = run.smoke or (run.metrics.get("data") or {}).get("source") == "synthetic"
    return [_judge(run, reference, tolerance, synthetic, include_smoke) for reference in references]


def _judge(
    run: SavedRun, reference: Reference, tolerance: Tolerance, synthetic: bool, include_smoke: bool
) -> ReferenceCheck:
    skip_synthetic = synthetic and not include_smoke
    metric, actual = resolve_reference(reference.key, run)
    common = dict(
        run=run.label,
        id=default_label(run.path),
        reference=reference.key,
        metric=metric,
        expected=reference.value if reference.value is not None else reference.low,
        actual=actual,
        tolerance=reference.tolerance_text(tolerance),
        source=reference.source,
        kind=reference.kind,
        expected_text=reference.expected_text(tolerance),
        side=reference.side,
    )
    if run.status != "completed":
        return ReferenceCheck(**common, result=NOT_FINISHED, note=f"status {run.status}")
    if skip_synthetic:
        note = "smoke run on synthetic data" if run.smoke else "synthetic data"
        return ReferenceCheck(**common, result=NOT_COMPARABLE, note=note)
    # a seed-dependent number is never judged, so its conditions cannot make the run unjudgeable
    unmet = [] if synthetic or reference.seed_dependent else unmet_conditions(reference, run.config)
    if unmet:
        return ReferenceCheck(**common, result=NOT_COMPARABLE, note="; ".join(unmet))
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
