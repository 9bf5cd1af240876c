"""Atomic file writes (a reader sees the old file or the new one, never half of one) and JSON reads.

Every JSON, CSV, YAML and figure that dlab writes goes through here: the bytes go
to a temporary file in the same folder, are flushed to disk, and the temporary
file is renamed over the target (``os.replace`` is atomic on POSIX and Windows).
The folder is then fsync'ed where the platform allows, so the rename survives a
crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dlab.saferead import load_json


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_DEFAULT_FILE_MODE = 0o666 & ~_umask()
"""The mode ``open(path, "w")`` gives a new file under this process's umask."""


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    Use it for writers that want a file name (``model.save``, ``figure.savefig``).
    On error the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix or ".tmp"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes the file private (0600); give it the mode open() would, so a run's files
    # stay readable by whoever may read the folder (a CI artifact, a teammate, a web server)
    os.chmod(tmp, _DEFAULT_FILE_MODE)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON; NaN/Inf become ``null`` so that any reader can parse it."""
    atomic_write_text(target, json.dumps(_finite(data), indent=2) + "\n")


def atomic_write_with(target: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and rename the result over ``target``."""
    with atomic_path(target) as tmp:
        writer(tmp)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def read_json(path: Path) -> tuple[Any, str | None]:
    """A JSON file's content, or ``(None, why not)``: regular files only (a FIFO would
    block), and nothing nested too deeply to walk (see :mod:`dlab.saferead`)."""
    try:
        return load_json(path), None
    except FileNotFoundError:
        return None, f"{path.name} is missing"
    except OSError as error:  # a FIFO, a folder, no permission
        return None, f"{path.name} cannot be read ({error.strerror or error})"
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, nested too deeply
        return None, f"{path.name} cannot be read ({error})"


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object's contents, or None when it is missing, unreadable or not an object."""
    data, _ = read_json(path)
    return data if isinstance(data, dict) else None


def file_hash(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in 1 MB chunks (a dataset, an export, a data file a run read)."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()
