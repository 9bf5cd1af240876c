"""Where ``dlab predict``, ``evaluate`` and ``export`` write, checked before any work is done.

Principle: nothing dlab did not create is deleted or overwritten. These commands write a
CSV, mask PNGs, an evaluation record or an export, each to a path the user named or to a
default one. Each such path is checked before a model is loaded or a file is read, so a
path under a file, a folder where a file should go, a read-only folder or an existing file
ends the command at once with exit 2, the path and what to do, instead of a traceback
after the work or a file of the user's silently replaced.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from dlab.errors import UsageError


def writable_folder(folder: Path, what: str, instead: str) -> Path:
    """Create ``folder`` (and its parents) if needed and prove that a file can be written in it.

    Args:
        what: how the message names the folder (``-o masks``, ``the run's evaluations folder``).
        instead: what the user can do about it.

    Raises:
        UsageError: ``folder`` is a file, lies under a file, or cannot be written (read-only,
            no permission, disk full).
    """
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{what}: {folder} is a file, not a folder. {instead}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".dlab-write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        why = error.strerror or str(error)
        raise UsageError(f"{what}: cannot write into {folder} ({why}). {instead}") from None
    return folder


def new_file(path: Path, what: str) -> Path:
    """``path`` if a new file can be written there: nothing exists at it, and its folder is writable.

    Raises:
        UsageError: ``path`` is a folder or an existing file, or its folder cannot be written.
    """
    if path.is_dir():
        raise UsageError(
            f"{what}: {path} is a folder; give the name of a new file, e.g. {path / 'predictions.csv'}."
        )
    if os.path.lexists(path):
        raise UsageError(
            f"{what}: {path} exists already, and dlab writes only new files (it never overwrites "
            "one it did not make in this command). Choose another name, or remove the file first."
        )
    writable_folder(path.parent, what, "Choose a path in a writable folder.")
    return path


def new_files(folder: Path, names: Iterable[str], what: str) -> list[Path]:
    """The paths ``folder/name``, if the folder is writable and none of them exists yet.

    Raises:
        UsageError: the folder cannot be written, or some of the files exist (up to 5 named).
    """
    writable_folder(folder, what, "Choose a writable folder.")
    paths = [folder / name for name in names]
    existing = [str(path) for path in paths if os.path.lexists(path)]
    if existing:
        shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
        raise UsageError(
            f"{what}: {len(existing)} of the files to write exist already ({shown}), and dlab never "
            "overwrites a file it did not make in this command. Choose a new or empty folder, or "
            "remove those files first."
        )
    return paths
