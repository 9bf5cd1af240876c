"""The catalogue behind ``dlab list``: every runnable config's family, dataset and description.

This module owns reading that metadata and caching it; what ``dlab list`` shows of
it (a family filter, the table, JSON, names) is :mod:`dlab.api.listing`. It sits in
the framework package because a config's family is its experiment's: only the
registry knows it.

Building the rows means parsing every config's YAML and importing every experiment
module (for its ``family``), which pulls in pydantic: about 0.2 s, most of what
``dlab list`` would cost. The rows change only when a config, an experiment module
or dlab itself changes, so they are kept in a small JSON file in the user's cache
folder (``$XDG_CACHE_HOME/dlab``, else ``~/.cache/dlab``) under a fingerprint of
those files' names, sizes and modification times. A stale, unreadable or unwritable
cache is never an error: the rows are simply built again.

The same file keeps the last few tables drawn from those rows (per terminal width and
family): drawing one takes rich, whose import and layout cost more than the rest of
``dlab list`` together, so a listing repeated at the same width reuses its text.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlab
from dlab.config.files import load_yaml_chain
from dlab.config.project import find_project
from dlab.config.sources import (
    EXPERIMENT_ENTRY_POINTS,
    cache_folder,
    config_catalogue,
    config_sources,
    plugin_entries,
)
from dlab.errors import DlabError
from dlab.fileio import atomic_write_json

Row = dict[str, str]
"""One catalogue entry: name, family, dataset and description (the first sentence)."""

CACHE_FILE = "catalogue.json"
TABLES_KEPT = 8
"""Drawn tables kept in the cache (the most recent ones: a few terminal widths, a few families)."""


@dataclass
class Catalogue:
    """The rows, and the tables drawn from them, under the fingerprint they were made for."""

    fingerprint: str
    rows: list[Row]
    tables: dict[str, str] = field(default_factory=dict)

    def table(self, key: str, draw: Callable[[], str]) -> str:
        """The table ``key`` names (its width and family): from the cache, else drawn now and cached."""
        if key not in self.tables:
            recent = list(self.tables.items())[-(TABLES_KEPT - 1) :]
            self.tables = {**dict(recent), key: draw()}
            _write(self)
        return self.tables[key]


def load_catalogue() -> Catalogue:
    """Every runnable config's row (and the cached tables), rebuilt when a config or experiment
    module changed."""
    return open_catalogue([source.folder for source in config_sources()], build_rows)


def build_rows() -> list[Row]:
    """Read every config (its ``extends`` chain) and ask the registry for its experiment's family.

    A config that cannot be read gets a row that says so: one broken file must not hide the others.
    """
    # The registry imports every experiment module (and pydantic): only on a cache miss, or
    # `dlab list` would take a quarter of a second longer.
    from dlab.framework import registry  # lazy: keeps dlab list light (a cache hit skips it)

    rows = []
    for name, entry in config_catalogue().items():
        if entry.clash:
            rows.append(_row(name, "?", "?", f"(unusable: {entry.clash})", entry.origin))
            continue
        try:
            data = load_yaml_chain(entry.path, {})
        except DlabError as error:
            rows.append(_row(name, "?", "?", f"(invalid config: {error})", entry.origin))
            continue
        try:
            family = registry.get(str(experiment_of(data))).family
        except DlabError:
            family = "?"
        description = " ".join(str(data.get("description", "")).split())
        first_sentence = description.split(". ")[0].rstrip(".")
        dataset = str((data.get("data") or {}).get("dataset", ""))
        rows.append(_row(name, family, dataset, first_sentence, entry.origin))
    return rows


BUILDER = "builder"
"""The experiment of a config that names a model function (``model.build``) and no experiment."""


def experiment_of(data: dict[str, Any]) -> str | None:
    """The experiment a config's data names; a model function of the user's runs the builder."""
    experiment = data.get("experiment")
    if experiment is None and isinstance(data.get("model"), dict) and "build" in data["model"]:
        return BUILDER
    return experiment


def _row(name: str, family: str, dataset: str, description: str, origin: str) -> Row:
    return {"name": name, "family": family, "dataset": dataset, "description": description, "origin": origin}


def fingerprint(configs: Path | Sequence[Path]) -> str:
    """A digest of dlab's version, every config (in ``configs``, one folder or several) and every
    module that registers experiments: dlab's catalogue, the project's ``modules`` and the
    plugins' entry points (names, sizes and modification times; a plugin by its entry points,
    which change with every install)."""
    digest = hashlib.sha256(dlab.__version__.encode())
    spec = importlib.util.find_spec("dlab.experiments")
    folders = [configs] if isinstance(configs, Path) else list(configs)
    folders += [Path(p) for p in (spec.submodule_search_locations or []) if spec]
    project = find_project()
    for path in project.modules if project is not None else ():
        with contextlib.suppress(OSError):  # a missing module is reported when it is imported
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
            if path.is_dir():
                folders.append(path)
    digest.update(repr(plugin_entries(EXPERIMENT_ENTRY_POINTS)).encode())
    for folder in folders:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.endswith((".yaml", ".py")):
                stat = entry.stat()
                digest.update(f"{folder}/{entry.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def open_catalogue(configs: Path | Sequence[Path], build: Callable[[], list[Row]]) -> Catalogue:
    """The cached catalogue when its fingerprint matches, else a new one from ``build()`` (cached)."""
    key = fingerprint(configs)
    cached = _read(cache_folder() / CACHE_FILE)
    if cached is not None and cached.get("fingerprint") == key:
        tables = cached.get("tables")
        valid = isinstance(tables, dict) and all(isinstance(text, str) for text in tables.values())
        return Catalogue(key, cached["rows"], dict(tables) if valid else {})
    catalogue = Catalogue(key, build())
    _write(catalogue)
    return catalogue


def cached_rows(configs: Path | Sequence[Path], build: Callable[[], list[Row]]) -> list[Row]:
    """The catalogue rows: from the cache when its fingerprint matches, else ``build()`` (and cache them)."""
    return open_catalogue(configs, build).rows


def _write(catalogue: Catalogue) -> None:
    data = {"fingerprint": catalogue.fingerprint, "rows": catalogue.rows, "tables": catalogue.tables}
    try:
        atomic_write_json(cache_folder() / CACHE_FILE, data)
    except OSError:  # a read-only or full home folder: list without a cache
        pass


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        return None
    return data
