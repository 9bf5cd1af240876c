"""``dlab diff A B``: two configs or runs compared key by key, and two runs' metrics side by side.

"Why did these two runs differ?" is answered by their resolved configs: only the
keys whose values differ are listed, each with where its value came from: the
YAML file of the ``extends`` chain that set it, ``--set``, a named flag
(``--epochs``), ``--smoke``, or ``default``. A run says so in its metrics.json's
``provenance`` (:mod:`dlab.results.origins`); a run from before provenance only
has its saved config.yaml to point at. For two runs the metrics follow, with
their difference. A config side is prepared by the API (which resolves config
names); this module only compares and renders, so it never imports TensorFlow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlab.results.index import SavedRun
from dlab.results.labels import config_values, format_value
from dlab.results.origins import DEFAULT, leaf_origins, run_origins
from dlab.results.tables import csv_table, fit_lines, markdown_table, text_table
from dlab.results.vocabulary import format_number

_MISSING = "(not set)"
NAME_CHARS = 30
"""The longest side name used as a column header (longer ones become A and B)."""
SAVED_CONFIG = "run config.yaml"
"""The origin of every value of a run without provenance: all it has is its saved config."""


@dataclass
class DiffSide:
    """One side of a diff: a resolved config (flattened), where its keys came from, and the run if any."""

    name: str
    config: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)
    run: SavedRun | None = None
    default_origin: str = DEFAULT

    @property
    def values(self) -> dict[str, Any]:
        return config_values(self.config)

    def origin(self, key: str) -> str:
        """The file (or flag) that set ``key`` or the nearest section above it; else the default origin."""
        parts = key.split(".")
        for end in range(len(parts), 0, -1):
            found = self.origins.get(".".join(parts[:end]))
            if found:
                return Path(found).name if found.endswith((".yaml", ".yml")) else found
        return self.default_origin


@dataclass
class ConfigDiff:
    """What differs between two sides: config keys, and metrics when both are runs."""

    left: DiffSide
    right: DiffSide
    keys: list[str]
    metrics: list[str]

    def render(self, fmt: str = "table") -> str:
        """``table``, ``markdown``, ``csv`` or ``json`` text."""
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2) + "\n"
        left, right = self._column_names()
        key_headers = ["key", left, "from", right, "from"]
        key_rows = [
            [key, self._value(self.left, key), self.left.origin(key), self._value(self.right, key)]
            + [self.right.origin(key)]
            for key in self.keys
        ]
        metric_headers = ["metric", left, right, "difference"]
        metric_rows = [self._metric_row(metric) for metric in self.metrics]
        if fmt == "csv":
            rows = [["config", *row] for row in key_rows] + [["metric", *row, "", ""] for row in metric_rows]
            return csv_table(["section", "name", "left", "left_from", "right", "right_from"], rows)
        table = markdown_table if fmt == "markdown" else text_table
        title = f"{self.left.name} vs {self.right.name}"
        if (left, right) == ("A", "B"):
            title = f"A: {self.left.name} vs B: {self.right.name}"
        parts = [f"**dlab diff**: {title}\n\n" if fmt == "markdown" else fit_lines(f"diff: {title}\n")]
        if key_rows:
            parts.append(table(key_headers, key_rows))
        else:
            parts.append("The resolved configs are the same (name, description and reference aside).\n")
        if self.left.run is not None and self.right.run is not None:
            parts.append(
                "\n" + (table(metric_headers, metric_rows) if metric_rows else "No metrics to compare.\n")
            )
        return "".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left.name,
            "right": self.right.name,
            "config": [
                {
                    "key": key,
                    "left": self.left.values.get(key),
                    "left_from": self.left.origin(key),
                    "right": self.right.values.get(key),
                    "right_from": self.right.origin(key),
                    "left_set": key in self.left.values,
                    "right_set": key in self.right.values,
                }
                for key in self.keys
            ],
            "metrics": [
                {
                    "metric": metric,
                    "left": self._metric(self.left, metric),
                    "right": self._metric(self.right, metric),
                }
                for metric in self.metrics
            ],
        }

    def _column_names(self) -> tuple[str, str]:
        """The two sides' names as column headers; ``A`` and ``B`` (named in the title) when a name
        is too long for a column (a run's ``<config>/<time>-<id>``)."""
        names = (self.left.name, self.right.name)
        return names if max(len(name) for name in names) <= NAME_CHARS else ("A", "B")

    @staticmethod
    def _value(side: DiffSide, key: str) -> str:
        values = side.values
        return format_value(values[key]) if key in values else _MISSING

    @staticmethod
    def _metric(side: DiffSide, metric: str) -> float | None:
        return side.run.values.get(metric) if side.run is not None else None

    def _metric_row(self, metric: str) -> list[str]:
        left, right = self._metric(self.left, metric), self._metric(self.right, metric)
        difference = right - left if left is not None and right is not None else None
        shown = format_number(difference)
        if difference is not None and not shown.startswith("-"):
            shown = f"+{shown}"
        return [metric, format_number(left), format_number(right), shown]


def run_side(run: SavedRun) -> DiffSide:
    """One side of a diff from a saved run, its values' origins from its provenance.

    A run without provenance labels every value ``run config.yaml``; a config file of its
    chain that is gone or unreadable leaves its keys as ``default or <file>``.
    """
    found = run_origins(run.metrics, run.config)
    if found is None:
        return DiffSide(run.label, run.config, run=run, default_origin=SAVED_CONFIG)
    default = f"{DEFAULT} or {', '.join(found.unread)}" if found.unread else DEFAULT
    return DiffSide(run.label, run.config, leaf_origins(found.by_key), run=run, default_origin=default)


def diff_sides(left: DiffSide, right: DiffSide) -> ConfigDiff:
    """Compare two sides key by key (differences only) and, for two runs, their metrics."""
    a, b = left.values, right.values
    keys = [
        key
        for key in dict.fromkeys([*a, *b])
        if _canonical(a.get(key, _MISSING)) != _canonical(b.get(key, _MISSING))
    ]
    metrics: list[str] = []
    if left.run is not None and right.run is not None:
        metrics = list(dict.fromkeys([*left.run.values, *right.run.values]))
    if left.name == right.name:  # two runs of one config: tell them apart by folder
        left.name, right.name = f"A: {left.name}", f"B: {right.name}"
    return ConfigDiff(left, right, keys, metrics)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
