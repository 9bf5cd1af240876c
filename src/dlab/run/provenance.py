"""Where a run came from: the command, what it changed, the code's commit and the data it read.

metrics.json's ``provenance`` block answers "how do I get this run again, and is it what I think
it is?" months later: the command line as typed, the ``--set`` overrides as given (so ``dlab
diff`` can tell them from the config file's values), the named flags, the config files of the
``extends`` chain, the git commit and dirty flag of the repository that holds the config (when
there is one), and a hash of the data files the dataset read (a changed CSV shows up as a
changed hash, not as a mysteriously different accuracy).

Nothing here may stop a run: git missing, a config outside any repository, or a data folder
that cannot be read give ``None`` for that part, and every call to git has a deadline.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dlab.config.files import extends_chain
from dlab.fileio import file_hash

GIT_TIMEOUT_S = 5.0
"""Each git call's deadline: a hung network file system must not hold a run's start."""

CONTENT_HASH_LIMIT = 2 * 1024**3
"""Data folders larger than this (bytes) are hashed by their listing (names, sizes, times)
instead of their contents: hashing gigabytes would cost more than the run's first epoch."""


def collect(
    *,
    config_path: str | None,
    sets: Sequence[str],
    flags: Mapping[str, Any],
    data_paths: Sequence[str | None],
    origins: Mapping[str, str] | None = None,
    request: Sequence[str] = (),
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The provenance block of metrics.json.

    Args:
        config_path: the YAML file the config was read from (None: built in memory).
        sets: the ``--set`` assignments as the user typed them.
        flags: the named flags given, by option name (``{"epochs": 2}``); None values are
            flags not given and are left out.
        data_paths: files or folders the dataset read (missing or None ones are skipped).
        origins: where each key the resolution set came from (``RunConfig.key_origins``); the
            keys a flag, ``--smoke`` or ``--set`` set are kept as ``set_by`` (the files'
            keys are the files' business: ``config_files``).
        request: the run as ``dlab run`` arguments that parse back into the same request (what
            the process was asked, whether by a shell, a sweep or :func:`dlab.api.run`).
        argv: the command line (default: this process's).
    """
    source = Path(config_path) if config_path else None
    files = [str(path) for path in extends_chain(source)] if source else []
    set_by = {
        key: origin
        for key, origin in (origins or {}).items()
        if origin.startswith("--") or origin == "model.build"
    }
    return {
        "command": list(sys.argv if argv is None else argv),
        "request": list(request),
        "overrides": list(sets),
        "flags": {name: value for name, value in flags.items() if value is not None},
        "config_files": files,
        "set_by": set_by,
        "git": git_state(source.parent if source else Path.cwd()),
        "data_files": data_hashes(data_paths),
    }


def git_state(folder: Path) -> dict[str, Any] | None:
    """``{"root", "commit", "dirty"}`` of the git repository holding ``folder``; None outside one
    (or without git, or when git does not answer within its deadline)."""
    root = _git(folder, "rev-parse", "--show-toplevel")
    commit = _git(folder, "rev-parse", "HEAD") if root else None
    if root is None or commit is None:
        return None
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"root": root, "commit": commit, "dirty": None if status is None else bool(status)}


def _git(folder: Path, *args: str) -> str | None:
    """One git command's stdout, stripped; None when it fails, is missing or times out."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # a status must not take the index lock
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def data_hashes(paths: Sequence[str | None]) -> dict[str, dict[str, Any]]:
    """A SHA-256 per data file or folder the run read, by its absolute path."""
    hashes: dict[str, dict[str, Any]] = {}
    for raw in paths:
        if not raw:
            continue
        path = Path(raw).expanduser()
        try:
            if path.is_file():
                hashes[str(path.resolve())] = _file_record(path)
            elif path.is_dir():
                hashes[str(path.resolve())] = _folder_record(path)
        except OSError as error:  # unreadable now: say so rather than stop the run
            hashes[str(path)] = {"error": error.strerror or str(error)}
    return hashes


def _file_record(path: Path) -> dict[str, Any]:
    return {"sha256": file_hash(path), "files": 1, "bytes": path.stat().st_size, "method": "content"}


def _folder_record(folder: Path) -> dict[str, Any]:
    """One hash over the folder's files in path order: each relative path with its content hash
    (or, past :data:`CONTENT_HASH_LIMIT`, its size and modification time)."""
    files = sorted(_files_under(folder))
    total = sum(size for _, size, _ in files)
    by_content = total <= CONTENT_HASH_LIMIT
    digest = hashlib.sha256()
    for path, size, mtime in files:
        part = file_hash(path) if by_content else f"{size}:{mtime}"
        digest.update(f"{path.relative_to(folder).as_posix()}\0{part}\n".encode())
    method = "content" if by_content else "listing"
    return {"sha256": digest.hexdigest(), "files": len(files), "bytes": total, "method": method}


def _files_under(folder: Path) -> Iterator[tuple[Path, int, int]]:
    """Every regular file below ``folder`` (hidden ones too: they are data) with size and mtime;
    symbolic links are not followed out of it."""
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in names:
            path = Path(root) / name
            info = path.lstat()
            if path.is_file() and not path.is_symlink():
                yield path, info.st_size, info.st_mtime_ns
