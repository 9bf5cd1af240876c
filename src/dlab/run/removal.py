"""Deleting what dlab wrote, and nothing else: ``dlab rm`` of runs and sweeps.

Two rules make a delete safe. A folder is removed whole only when it is a run directory dlab
made (its metrics.json carries dlab's header) and no live process holds its lock, checked
while holding that lock. A sweep folder is emptied file by file, of the names a sweep writes;
anything else a user put there stays, and the folder with it. A run is first renamed to a
hidden sibling, so an interrupted delete never leaves a half-deleted run that ``dlab runs`` would
list: listings skip hidden folders.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from dlab.errors import UsageError
from dlab.fileio import read_json
from dlab.run.lock import RunLock

DLAB_HEADER_KEYS = ("schema_version", "status", "config", "config_hash")
"""The keys every metrics.json dlab writes starts with: how a run directory is told from a
folder that merely holds a file called metrics.json."""

SWEEP_FILES = ("summary.json", "summary.csv", "seeds.csv", "curves_*.png", "compare_*.png")
"""What a sweep writes at its top level; its ``logs/`` holds ``*.log`` and ``tensorboard/``
holds event files."""
SWEEP_FOLDERS = {"logs": ("*.log",), "tensorboard": ("events.out.tfevents.*", "*.json")}


@dataclass(frozen=True)
class FolderSize:
    """How much a delete frees, for the confirmation."""

    files: int
    bytes: int


def check_run_dir(path: Path) -> Path:
    """``path`` if it is a run directory dlab made.

    Raises:
        UsageError: missing, not a folder, or without dlab's metrics.json header.
    """
    if not path.is_dir():
        raise UsageError(f"{path}: no such run directory.")
    metrics, problem = read_json(path / "metrics.json")
    if not isinstance(metrics, dict) or not all(key in metrics for key in DLAB_HEADER_KEYS):
        why = problem or "its metrics.json is not one dlab wrote"
        raise UsageError(
            f"{path}: not a dlab run directory ({why}); dlab rm deletes only runs and sweeps it made."
        )
    return path


def folder_size(path: Path) -> FolderSize:
    """Files and bytes below ``path`` (symbolic links counted, not followed)."""
    files = size = 0
    for root, _, names in os.walk(path):
        for name in names:
            files += 1
            try:
                size += (Path(root) / name).lstat().st_size
            except OSError:
                continue
    return FolderSize(files, size)


def remove_run_dir(path: Path) -> None:
    """Delete a run directory dlab made, unless a live process holds it.

    Raises:
        RunStillRunning: a live process holds the run's lock (nothing is deleted).
        UsageError: not a dlab run directory, or it cannot be renamed (permissions).
    """
    check_run_dir(path)
    hidden = path.with_name(f".{path.name}.deleting-{uuid.uuid4().hex[:6]}")
    with RunLock.acquire(path, f"dlab rm {path}", record=False):
        check_run_dir(path)  # again, under the lock: it is still what was checked
        try:
            os.rename(path, hidden)
        except OSError as error:
            raise UsageError(f"{path}: cannot delete it ({error.strerror or error}).") from None
    shutil.rmtree(hidden, ignore_errors=True)
    if hidden.exists():
        raise UsageError(
            f"{path}: moved aside to {hidden} but not every file could be deleted; remove it by hand."
        )


def remove_sweep_files(sweep_dir: Path) -> list[Path]:
    """Delete the files a sweep wrote in ``sweep_dir`` (its members are runs: see
    :func:`remove_run_dir`), then the folders they leave empty.

    Returns:
        What was left because dlab did not write it (the folder stays with them).
    """
    return _remove_written(sweep_dir, SWEEP_FILES, SWEEP_FOLDERS)


def _remove_written(
    folder: Path, patterns: tuple[str, ...], subfolders: dict[str, tuple[str, ...]] | None = None
) -> list[Path]:
    """Delete the regular files of ``folder`` whose names match ``patterns``, and in each
    subfolder those matching its own patterns (``subfolders``; None: every subfolder, with the
    same patterns); remove the folders left empty; return what was left."""
    left: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            left.append(entry)
        elif entry.is_dir() and (subfolders is None or entry.name in subfolders):
            left += _remove_written(entry, patterns if subfolders is None else subfolders[entry.name])
        elif entry.is_file() and any(fnmatch.fnmatchcase(entry.name, p) for p in patterns):
            entry.unlink()
        else:
            left.append(entry)
    if not left:
        folder.rmdir()
    return left
