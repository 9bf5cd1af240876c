"""The catalogue behind ``dlab list``: every packaged config's family, dataset and description.

Building it means parsing 75 YAML files and importing every experiment module
(for its ``family``), which pulls in pydantic: about 0.2 s, most of what
``dlab list`` would cost. The rows change only when a packaged config, an
experiment module or dlab itself changes, so they are kept in a small JSON file
in the user's cache folder (``$XDG_CACHE_HOME/dlab``, else ``~/.cache/dlab``)
under a fingerprint of those files' names, sizes and modification times. A
stale, unreadable or unwritable cache is never an error: the rows are simply
built again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlab
from dlab.fileio import atomic_write_json

Row = dict[str, str]
"""One catalogue entry: name, family, dataset and description (the first sentence)."""

CACHE_FILE = "catalogue.json"


def cache_folder() -> Path:
    """Where dlab keeps caches that can be rebuilt at any time."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "dlab"


def fingerprint(configs_dir: Path) -> str:
    """A digest of dlab's version and every packaged config and experiment module (name, size, mtime)."""
    digest = hashlib.sha256(dlab.__version__.encode())
    spec = importlib.util.find_spec("dlab.experiments")
    folders = [configs_dir, *(Path(p) for p in (spec.submodule_search_locations or []) if spec)]
    for folder in folders:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.endswith((".yaml", ".py")):
                stat = entry.stat()
                digest.update(f"{folder}/{entry.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cached_rows(configs_dir: Path, build: Callable[[], list[Row]]) -> list[Row]:
    """The catalogue rows: from the cache when its fingerprint matches, else ``build()`` (and cache them)."""
    key = fingerprint(configs_dir)
    path = cache_folder() / CACHE_FILE
    cached = _read(path)
    if cached is not None and cached.get("fingerprint") == key:
        return cached["rows"]
    rows = build()
    try:
        atomic_write_json(path, {"fingerprint": key, "rows": rows})
    except OSError:  # a read-only or full home folder: list without a cache
        pass
    return rows


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        return None
    return data
