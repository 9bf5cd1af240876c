"""Dataset files: what dlab recognizes in one, and importing Keras downloads (``dlab data``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def data_info(path: str | os.PathLike[str]) -> dict[str, str]:
    """Which on-disk layout ``path`` is and how dlab reads it (see :mod:`dlab.data.layouts`)."""
    from dlab.data.layouts import describe

    return describe(Path(path))


def data_import(
    name: str, path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None
) -> list[Any]:
    """Check a downloaded Keras file with the hash Keras checks and copy it into the Keras cache.

    Returns:
        One :class:`dlab.data.keras_cache.Imported` per file (companions included).

    Raises:
        DataError: an unknown dataset, a missing path, a file with the wrong hash.
    """
    from dlab.data.keras_cache import import_files

    return import_files(name, Path(path), Path(cache_dir).expanduser() if cache_dir else None)
