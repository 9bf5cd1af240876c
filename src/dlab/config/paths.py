"""The paths a config names, checked before anything starts.

A run reads ``data.path`` (``data.source: file`` or ``dir``) only once TensorFlow has started
and the experiment's data loader runs: seconds later, to say that a file name had a typo.
:func:`check_named_paths` looks at every path the config names as soon as it is resolved,
before any heavy import, so that mistake costs well under a second. The data loaders still
check the layout of what is there (which files, which columns).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlab.errors import DataError

PATH_SOURCES = ("file", "dir")
"""The ``data.source`` values that read ``data.path``."""


def named_paths(config: Any) -> Iterator[tuple[str, str, str]]:
    """``(key, path, what it should be)`` for each path the config names: ``data.path`` where the
    source reads it, and ``model.init_from`` (a run directory to start from) where it is set."""
    data = config.data
    if data.source in PATH_SOURCES and data.path:
        yield (
            "data.path",
            str(data.path),
            f"data.source={data.source} reads {data.dataset or 'the data'} there",
        )
    init_from = getattr(config.model, "init_from", None)
    if isinstance(init_from, str) and init_from:
        yield "model.init_from", init_from, "the run directory whose model.keras the run starts from"


def check_named_paths(config: Any) -> None:
    """Refuse a config that names a path that does not exist (exit 2), before anything starts.

    Args:
        config: a resolved :class:`dlab.config.RunConfig`.

    Raises:
        DataError: a missing path; the message names the key, the path and what reads it.
    """
    for key, path, what in named_paths(config):
        if not Path(path).expanduser().exists():
            origin = config.key_origins.get(key) if hasattr(config, "key_origins") else None
            where = f" (from {origin})" if origin else ""
            raise DataError(f"{key} '{path}'{where} does not exist: {what}. Nothing was started.")
