"""``dlab mlflow-sync``: run folders trained without ``--mlflow``, logged as a live run logs them.

Every folder is read first (:mod:`dlab.tracking.mlflow_read`); when one cannot be read,
the sync stops before it has logged anything, naming each such folder and why. Then
the members of each sweep are logged under the sweep's parent run, as a live
``dlab sweep --mlflow`` logs them (:mod:`dlab.tracking.mlflow_sweeps`), and the other
runs on their own. Each run is logged at most once (:mod:`dlab.tracking.mlflow_runs`).

A store that fails while logging (locked, read-only, out of space) stops the sync with
one message saying what was logged before it; the MLflow run it was writing is ended
FAILED, and running the sync again completes it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dlab.errors import UsageError
from dlab.tracking.mlflow_read import RunFolder, UnreadableRun, read_run_folder
from dlab.tracking.mlflow_runs import Logged, log_run
from dlab.tracking.mlflow_store import store_error
from dlab.tracking.mlflow_sweeps import (
    SweepFolder,
    finish_parent,
    member_labels,
    start_parent,
    sweep_status,
)


def read_all(paths: Sequence[Path]) -> list[RunFolder]:
    """Every run folder, read whole.

    Raises:
        UnreadableRun: one message for all the folders that cannot be read.
    """
    runs, problems = [], []
    for path in paths:
        try:
            runs.append(read_run_folder(path))
        except UnreadableRun as error:
            problems.append(str(error))
    if problems:
        raise UnreadableRun(
            f"{len(problems)} run folder(s) cannot be read, so nothing was logged to MLflow:\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )
    return runs


def sync(
    client: Any,
    uri: str,
    run_paths: Sequence[Path],
    sweeps: Sequence[SweepFolder] = (),
    register: str | None = None,
) -> list[Logged]:
    """Log the runs (sweep members nested under their sweep), each at most once.

    Args:
        register: make each logged model a version of this registered model.

    Raises:
        UnreadableRun: a folder that cannot be read (nothing is logged then).
        UsageError: the store failed while logging (what was logged before is said).
    """
    runs = read_all(run_paths)
    by_path = {run.path: run for run in runs}
    logged: list[Logged] = []
    nested: set[Path] = set()

    def log(run: RunFolder, **where: Any) -> None:
        with _store_failures(uri, f"logging {run.path}", logged):
            logged.append(log_run(client, uri, run, register=register, **where))

    for sweep in sweeps:
        members = [
            (by_path[path], index)
            for path, index in sweep.member_dirs().items()
            if path in by_path and path not in nested  # a run two summaries name: the first
        ]
        if not members:
            continue
        labels = member_labels(sweep.rows)
        with _store_failures(uri, f"logging the sweep {sweep.path}", logged):
            parent = start_parent(client, uri, sweep)
        for run, index in members:
            log(run, parent_run_id=parent, experiment_name=sweep.experiment, label=labels.get(index) or None)
            nested.add(run.path)
        with _store_failures(uri, f"ending the sweep's MLflow run {parent}", logged):
            finish_parent(client, parent, sweep_status(sweep), sweep.path)
    for run in runs:
        if run.path not in nested:
            log(run)
    return logged


@contextmanager
def _store_failures(uri: str, doing: str, logged: list[Logged]) -> Iterator[None]:
    """A store failure becomes one message that says what was logged before it."""
    try:
        yield
    except UsageError:
        raise
    except Exception as error:  # noqa: BLE001 - MLflow and SQLAlchemy raise many kinds
        fresh = sum(1 for item in logged if item.new)
        raise store_error(
            uri,
            error,
            f"{fresh} run(s) were logged before it stopped; the MLflow run being written is marked "
            "FAILED, and running mlflow-sync again completes it.",
            doing=doing,
        ) from error
