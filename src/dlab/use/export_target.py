"""Where ``dlab export`` writes: a new path, or with ``--force`` an export that dlab itself made.

``dlab export --output PATH`` used to delete whatever PATH named before exporting: a folder
of the user's, or the run folder itself. Now nothing dlab did not create is deleted or
overwritten:

- an export goes to a new path; an existing one is refused (exit 2) with what to do;
- ``--force`` replaces only an export dlab made, recognised by its manifest
  ``dlab-export.json`` (inside a SavedModel folder; beside a one-file model as
  ``<name>.dlab-export.json``), which lists every file of the export with its SHA-256: a
  file added or changed since dlab wrote it is the user's, and the export is refused;
- the run folder, a folder above it, and the working folder or one above it are never a
  target, with or without ``--force``.

The artifact is written to a hidden scratch path beside the target first, checked there,
and renamed into place; an export that fails leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlab.errors import UsageError
from dlab.fileio import atomic_write_json, file_hash
from dlab.saferead import load_json
from dlab.use.outputs import writable_folder

MANIFEST = "dlab-export.json"
FOLDER_FORMATS = ("saved_model",)
"""Formats whose artifact is a folder (the manifest goes inside it)."""


@dataclass
class Target:
    """The path an export goes to, and whether a dlab-made export there is replaced."""

    path: Path
    folder: bool
    replaces: bool

    @property
    def manifest(self) -> Path:
        return manifest_of(self.path, self.folder)

    def scratch(self) -> Path:
        """A new hidden path beside the target to write the artifact to (same name at the end,
        so a converter that checks the suffix sees ``.tflite`` / ``.onnx``)."""
        return self.path.parent / f".dlab-export-{secrets.token_hex(4)}-{self.path.name}"


def manifest_of(path: Path, folder: bool) -> Path:
    return path / MANIFEST if folder else path.with_name(f"{path.name}.{MANIFEST}")


def plan(run_dir: Path, fmt: str, output: str | Path | None, default: Path, *, force: bool) -> Target:
    """Check where an export of ``run_dir`` may go, before anything is exported.

    Raises:
        UsageError: the run folder, a folder above it or the working folder; an existing path
            without ``force``; with ``force``, a path that holds no export dlab made (or one
            changed since); a folder that cannot be written. Each names the path and what to do.
    """
    path = Path(output).expanduser() if output is not None else default
    flag = f"--output {output}" if output is not None else "dlab export"
    real = Path(os.path.realpath(path))
    run_real, here = Path(os.path.realpath(run_dir)), Path(os.path.realpath(Path.cwd()))
    what = _protected(real, run_real, here)
    if what:
        raise UsageError(
            f"{flag}: {path} is {what}; dlab export never writes over it, with or without --force. "
            f"Give a new path, e.g. --output {run_dir / 'export' / default.name}."
        )
    folder = fmt in FOLDER_FORMATS
    target = Target(path, folder, replaces=False)
    if os.path.lexists(path) or os.path.lexists(target.manifest):
        if not force:
            raise UsageError(
                f"{flag}: {path} exists already, and dlab export writes only to a new path. Choose "
                "another --output, or add --force to replace it if it is an export dlab made."
            )
        why = not_dlab_export(path, folder)
        if why:
            raise UsageError(
                f"{flag}: --force replaces only an export dlab made, and {path} {why}; dlab never "
                "deletes what it did not write. Choose a new --output path (or remove it yourself)."
            )
        target.replaces = True
    writable_folder(path.parent, flag, "Give --output PATH in a writable folder.")
    return target


def _protected(real: Path, run_real: Path, here: Path) -> str | None:
    """What ``real`` is if no export may ever replace it (the run, a folder above it, the working folder)."""
    if real == run_real:
        return "the run folder"
    if run_real.is_relative_to(real):
        return "a folder that holds the run"
    if here.is_relative_to(real):
        return "the working folder or a folder above it"
    return None


def not_dlab_export(path: Path, folder: bool) -> str | None:
    """Why ``path`` is not an unchanged export dlab made (None when it is one)."""
    manifest = manifest_of(path, folder)
    listed = _listed_files(manifest)
    if listed is None:
        return f"has no readable {manifest.name} (the manifest dlab writes with every export)"
    if not os.path.lexists(path):
        return None  # only the manifest is left: replacing it deletes nothing of the user's
    if path.is_symlink():
        return "is a link (dlab writes no links)"
    if folder != path.is_dir() or not (path.is_dir() or path.is_file()):
        return f"is not a {'folder' if folder else 'file'} like the export dlab writes"
    found = _hashes(path, folder)
    added = sorted(set(found) - set(listed))
    if added:
        return f"holds files dlab did not write there ({', '.join(added[:5])})"
    changed = sorted(name for name, digest in found.items() if listed.get(name) != digest)
    if changed:
        return f"was changed since dlab wrote it ({', '.join(changed[:5])})"
    return None


def _listed_files(manifest: Path) -> dict[str, Any] | None:
    """The ``files`` a manifest lists, or None when it is missing, unreadable or not dlab's."""
    if manifest.is_symlink():
        return None
    try:
        data = load_json(manifest)
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else None


def _hashes(path: Path, folder: bool) -> dict[str, str]:
    """SHA-256 of every file of an export, by its path relative to the export (the manifest left out)."""
    if not folder:
        return {path.name: file_hash(path)}
    return {
        entry.relative_to(path).as_posix(): file_hash(entry) if entry.is_file() else "link"
        for entry in sorted(path.rglob("*"))
        if (entry.is_file() or entry.is_symlink()) and entry != path / MANIFEST
    }


def install(scratch: Path, target: Target, record: dict[str, Any]) -> None:
    """Move a checked artifact from ``scratch`` to the target, with its manifest.

    A replaced export is checked once more just before it is removed (it may have changed
    while the new one was made).

    Raises:
        UsageError: the export to replace is no longer the one dlab made.
    """
    if target.replaces:
        why = not_dlab_export(target.path, target.folder)
        if why:
            raise UsageError(f"{target.path} {why} while the new export was made; it is kept as it is.")
        remove(target.path)
        target.manifest.unlink(missing_ok=True)
    os.rename(scratch, target.path)
    atomic_write_json(target.manifest, {**record, "files": _hashes(target.path, target.folder)})


def remove(path: Path) -> None:
    """Remove an export or a scratch path this command made (never follows a link)."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
