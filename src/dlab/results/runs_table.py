"""``dlab runs``: every run under an outputs root, with status, key metrics and time.

Failed, interrupted and still-running runs are listed too: their metrics.json
may lack test metrics, timings or even a finish time, and a crash may have left
it unreadable, so every field is read defensively and shown as '-' when absent.
A running run also shows how long ago it last wrote a file, because a process
killed without a chance to record it (power cut, kill -9) stays "running" on disk
forever.
"""

from __future__ import annotations

import fnmatch
import json
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlab.errors import UsageError, did_you_mean
from dlab.results.filters import RunFilter
from dlab.results.index import SavedRun, default_label, find_runs, load_run
from dlab.results.labels import label_parts, label_runs
from dlab.results.tables import csv_table, ellipsize, markdown_table, text_table
from dlab.results.vocabulary import TOP_LEVEL_RESULTS, format_number, key_metrics

STATUSES = ("running", "completed", "failed", "interrupted", "unknown")
KEY_METRICS_SHOWN = 3
"""Metrics of a run's most telling section in its one line (see :func:`key_metrics`)."""
ERROR_SHOWN = 60
"""Characters of a failed run's error in the table (CSV and JSON hold all of it)."""


@dataclass
class RunRow:
    """One line of ``dlab runs``."""

    run: SavedRun
    label: str = ""  # what tells the run apart from the other listed runs of its config

    @property
    def key_metrics(self) -> dict[str, float]:
        """Test metrics, else the last epoch's (the first three), and the top-level results."""
        return key_metrics(self.run.metrics, TOP_LEVEL_RESULTS, dotted=True, limit=KEY_METRICS_SHOWN)

    @property
    def started(self) -> str:
        text = str(self.run.metrics.get("started_at") or "")
        return text[:16].replace("T", " ") if text else "-"

    @property
    def status(self) -> str:
        status = self.run.status
        if status == "running" and process_gone(self.run.metrics.get("process")):
            return f"running? (its process is gone: killed; updated {_ago(last_write(self.run.path))})"
        if status == "running":
            return f"running (updated {_ago(last_write(self.run.path))})"
        return status

    @property
    def error(self) -> str:
        error = self.run.metrics.get("error")
        if isinstance(error, dict):
            return f"{error.get('type', 'Error')}: {error.get('message', '')}".strip()
        if error:
            return str(error)
        return "; ".join(self.run.problems)


def process_gone(process: Any) -> bool:
    """Whether the process metrics.json names as the run's (``process: {pid, host}``) is known to
    be gone: on this host, and no process has its pid. A run killed outright (``kill -9``, power
    loss) never records that it stopped; this tells it from one still training. Another host's
    process, or a pid now taken by another process, cannot be told apart: not gone."""
    if not isinstance(process, dict) or process.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(process["pid"]), 0)
    except ProcessLookupError:
        return True
    except (KeyError, TypeError, ValueError, OSError):  # no pid, or one we may not signal: alive
        return False
    return False


def last_write(run_dir: Path) -> float | None:
    """The newest modification time of the files a run rewrites as it trains."""
    times = []
    for name in ("metrics.json", "history.csv", "run.log"):
        try:
            times.append((run_dir / name).stat().st_mtime)
        except OSError:
            continue
    return max(times, default=None)


def _ago(stamp: float | None) -> str:
    if stamp is None:
        return "never"
    seconds = max(0.0, time.time() - stamp)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def list_runs(
    root: str | Path = "outputs",
    *,
    experiment: str | None = None,
    status: str | None = None,
    where: RunFilter | None = None,
) -> list[RunRow]:
    """The runs under ``root``, oldest first, optionally filtered.

    Args:
        root: the outputs root (``dlab run --out``).
        experiment: a config name (``cnn-cifar10``), a registered experiment name
            (``cnn_cifar10``) or a glob pattern over either (``mlp-imdb*``).
        status: running, completed, failed, interrupted or unknown (unreadable metrics.json).
        where: config, tag and time filters (:class:`dlab.results.filters.RunFilter`).

    Raises:
        UsageError: the root does not exist, or the status is not one of those.
    """
    if status is not None and status not in STATUSES:
        raise UsageError(
            f"Unknown --status '{status}'. Choose one of: {', '.join(STATUSES)}."
            + did_you_mean(status, STATUSES)
        )
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise UsageError(
            f"No outputs folder '{root}'. Runs are written under outputs/ by default "
            "(`dlab run --out DIR` chooses another); give that folder with --out."
        )
    rows = []
    for run_dir in find_runs(folder):
        run = load_run(run_dir)
        if status is not None and run.status != status:
            continue
        if where is not None and not where.matches(run):
            continue
        if experiment is not None and not any(
            fnmatch.fnmatchcase(name, experiment) for name in (run.config_name, run.experiment)
        ):
            continue
        rows.append(RunRow(run))
    rows.sort(key=lambda row: (str(row.run.metrics.get("started_at") or ""), row.run.path.name))
    runs = [row.run for row in rows]
    label_runs(runs)  # the config, then what differs within it, then the short id
    for row, (_, label) in zip(rows, label_parts(runs), strict=True):
        row.label = label
    return rows


def render_runs(rows: Sequence[RunRow], fmt: str) -> str:
    """The run list as ``table``, ``csv``, ``json`` or ``markdown``.

    The console and Markdown tables keep to what tells runs apart and how they went
    (config, label, status, wall time, key metrics, error, folder: the folder's name is its
    start time) so a row fits a terminal; CSV and JSON also hold the experiment, the start
    and finish times and the whole error.
    """
    if fmt == "json":
        return json.dumps([_as_dict(row) for row in rows], indent=2) + "\n"
    if fmt == "csv":
        headers = ["run", "config", "label", "experiment", "status", "smoke", "started", "wall_s"]
        headers += ["key metrics", "error", "folder", "tags"]
        return csv_table(
            headers,
            [
                [
                    row.run.label,
                    row.run.config_name,
                    row.label,
                    row.run.experiment,
                    row.run.status,
                    row.run.smoke,
                    row.run.metrics.get("started_at"),
                    row.run.metrics.get("wall_time_s"),
                    json.dumps(row.key_metrics),
                    row.error,
                    default_label(row.run.path),
                    json.dumps(row.run.tags) if row.run.tags else "",
                ]
                for row in rows
            ],
        )
    headers = ["config", "label", "status", "wall_s", "key metrics", "error", "folder"]
    cells = [
        [
            row.run.config_name,
            row.label or "-",
            row.status + (" (smoke)" if row.run.smoke else ""),
            format_number(_number(row.run.metrics.get("wall_time_s"))),
            ", ".join(f"{name} {format_number(value)}" for name, value in row.key_metrics.items()) or "-",
            ellipsize(row.error, ERROR_SHOWN) if row.error else "",
            row.run.path.name,
        ]
        for row in rows
    ]
    if any(row.run.tags for row in rows):  # a column only where someone tagged a run
        headers.insert(2, "tags")
        for row, line in zip(rows, cells, strict=True):
            line.insert(2, " ".join(f"{key}={value}" for key, value in sorted(row.run.tags.items())) or "-")
    if fmt == "markdown":
        return markdown_table(headers, cells)
    return text_table(headers, cells) + f"{len(rows)} run{'s' if len(rows) != 1 else ''}\n"


def _as_dict(row: RunRow) -> dict[str, Any]:
    metrics = row.run.metrics
    return {
        "run": row.run.label,
        "label": row.label,
        "id": default_label(row.run.path),
        "run_dir": str(row.run.path),
        "config": row.run.config_name,
        "experiment": row.run.experiment,
        "status": row.run.status,
        "smoke": row.run.smoke,
        "started_at": metrics.get("started_at"),
        "finished_at": metrics.get("finished_at"),
        "wall_time_s": metrics.get("wall_time_s"),
        "key_metrics": row.key_metrics,
        "error": row.error or None,
        "tags": row.run.tags,
        "note": row.run.note or None,
    }


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
