"""Managing saved runs: ``dlab tag`` (tags and a note after the fact) and ``dlab rm``.

``rm`` is two calls, so a caller can show what goes before anything goes: :func:`plan_removal`
checks every path first (a run dlab made, no live process holding it; a sweep dlab wrote, with
its members) and refuses the whole request on the first bad one; :func:`remove` then deletes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlab.errors import UsageError
from dlab.results.index import sweep_runs
from dlab.run.lock import check_not_running
from dlab.run.removal import FolderSize, check_run_dir, folder_size, remove_run_dir, remove_sweep_files
from dlab.run.tags import parse_tags, retag


def tag(
    run: str | os.PathLike[str],
    tags: Sequence[str] = (),
    remove: Sequence[str] = (),
    note: str | None = None,
) -> dict[str, Any]:
    """Set (``KEY=VALUE``) and remove tags of a run, and set its note (``""`` clears it).

    Returns:
        ``{"run": path, "tags": {...}, "note": ...}`` as metrics.json now says.

    Raises:
        UsageError: a bad tag, not a run directory, or a run still running.
    """
    path = check_run_dir(Path(run).expanduser())
    metrics = retag(path, parse_tags(tags), remove, note)
    return {"run": str(path), "tags": metrics.get("tags") or {}, "note": metrics.get("note")}


@dataclass
class RemovalPlan:
    """What ``dlab rm`` is about to delete: run directories, and sweep folders (whose member
    runs are among ``runs``)."""

    runs: list[Path] = field(default_factory=list)
    sweeps: list[Path] = field(default_factory=list)
    size: FolderSize = FolderSize(0, 0)

    def describe(self) -> list[str]:
        """One line per folder, then the total, for the confirmation."""
        lines = [f"  sweep {path}" for path in self.sweeps] + [f"  run   {path}" for path in self.runs]
        megabytes = self.size.bytes / 1e6
        lines.append(
            f"{len(self.runs)} run(s), {len(self.sweeps)} sweep(s): "
            f"{self.size.files} files, {megabytes:.1f} MB"
        )
        return lines


def plan_removal(paths: Sequence[str | os.PathLike[str]]) -> RemovalPlan:
    """Check every path before anything is deleted.

    Each path is a run directory or a sweep folder (``outputs/sweeps/NAME``: the sweep's files
    and every member run it names that still exists).

    Raises:
        UsageError: a path that is neither, or a run that a live process still holds.
    """
    if not paths:
        raise UsageError("dlab rm: name the run directories or sweep folders to delete.")
    plan = RemovalPlan()
    for raw in paths:
        path = Path(raw).expanduser()
        members = sweep_runs(path) if path.is_dir() else None
        if members is not None:
            plan.sweeps.append(path)
            candidates = [run for run, _ in members if run.is_dir()]
        else:
            candidates = [path]
        for run in candidates:
            check_run_dir(run)
            check_not_running(run, f"dlab rm {run}")
            if run.resolve() not in {known.resolve() for known in plan.runs}:
                plan.runs.append(run)
    sizes = [folder_size(path) for path in (*plan.runs, *plan.sweeps)]
    plan.size = FolderSize(sum(s.files for s in sizes), sum(s.bytes for s in sizes))
    return plan


@dataclass
class RemovalOutcome:
    """What :func:`remove` deleted, and what it left because dlab did not write it."""

    removed: list[Path]
    left: list[Path]


def remove(plan: RemovalPlan) -> RemovalOutcome:
    """Delete the runs, then the sweeps' own files, of a plan from :func:`plan_removal`.

    Raises:
        RunStillRunning: a run was started again since the plan (it and what follows stay).
    """
    removed: list[Path] = []
    for run in plan.runs:
        remove_run_dir(run)
        removed.append(run)
    left: list[Path] = []
    for sweep in plan.sweeps:
        left += remove_sweep_files(sweep)
        removed.append(sweep)
    return RemovalOutcome(removed, left)
