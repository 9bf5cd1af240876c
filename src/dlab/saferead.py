"""Reading files that runs wrote, when a run directory may hold anything.

``dlab runs``, ``compare``, ``check``, ``report`` and ``--resume`` read metrics.json,
history and config.yaml from folders that crashed runs, other tools or other people
left behind. Two things must not happen there:

- **a hang**: a FIFO (or a device) named metrics.json blocks ``open`` until someone
  writes to it, so only regular files are read (opened without blocking, then
  checked with ``fstat``);
- **a RecursionError traceback**: JSON nested thousands of levels deep overflows the
  parser or anything that walks it, so such a file counts as unreadable, with a note;
- **a read outside the folder**: a link (``plots/a.png`` -> ``~/.ssh/id_rsa``) or a name
  that a run's own file gives (``../../secret``, ``/etc/passwd``) must not lead dlab out
  of the run directory, so such paths are resolved and checked first (:func:`resolve_inside`).
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

MAX_JSON_DEPTH = 100
"""Nesting a metrics or history file may have (dlab writes fewer than ten levels)."""


def read_regular_text(path: str | os.PathLike[str]) -> str:
    """The UTF-8 text of ``path`` if it is a regular file.

    Raises:
        OSError: missing, unreadable, or not a regular file (a FIFO, a device, a folder).
        UnicodeDecodeError: not UTF-8.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read()
    finally:
        os.close(fd)
    return data.decode("utf-8")


class OutsideFolder(ValueError):
    """A path whose real location (links and ``..`` followed) is not inside the folder it must stay in."""


def resolve_inside(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """The real path of ``path`` (a relative one is taken from ``root``) if it lies inside ``root``.

    Both are resolved (every link and ``..`` followed) before they are compared, so neither
    a link nor a name can lead out of ``root``; the file must exist.

    Raises:
        OutsideFolder: the real path is outside the real ``root``.
        OSError: ``root`` or ``path`` does not exist (``RuntimeError`` for a link loop).
    """
    real_root = Path(root).resolve(strict=True)
    real = (real_root / path).resolve(strict=True)
    if not real.is_relative_to(real_root):
        raise OutsideFolder(f"{path} leads outside {root} (to {real})")
    return real


def load_json(path: str | os.PathLike[str]) -> Any:
    """Parse a regular JSON file that is nested at most :data:`MAX_JSON_DEPTH` levels.

    Raises:
        OSError: see :func:`read_regular_text`.
        ValueError: not JSON (``json.JSONDecodeError``), not UTF-8, or nested too deeply.
    """
    text = read_regular_text(path)
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"{Path(path).name} is nested too deeply to read") from None
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise ValueError(f"{Path(path).name} is nested more than {MAX_JSON_DEPTH} levels deep")
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            if depth > limit:
                return True
            stack.extend((item, depth + 1) for item in value)
    return False
