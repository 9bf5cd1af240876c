"""Dataset files: what dlab recognizes in one, and importing Keras downloads (``dlab data``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlab.api.data_report import describe_to, render
from dlab.data.formats.keras_cache import import_files
from dlab.data.formats.layouts import describe
from dlab.framework.factory import resolve_config
from dlab.runtime.start import start


def is_dataset_path(target: str) -> bool:
    """Whether ``dlab data info TARGET`` names a dataset file or folder rather than a config."""
    return Path(target).expanduser().exists() and not target.endswith((".yaml", ".yml"))


def data_layout(path: str | os.PathLike[str]) -> dict[str, str]:
    """Which on-disk layout ``path`` is and how dlab reads it (see :mod:`dlab.data.formats.layouts`)."""
    return describe(Path(path))


def data_import(
    name: str, path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None
) -> list[Any]:
    """Check a downloaded Keras file with the hash Keras checks and copy it into the Keras cache.

    Returns:
        One :class:`dlab.data.formats.keras_cache.Imported` per file (companions included).

    Raises:
        DataError: an unknown dataset, a missing path, a file with the wrong hash.
    """
    return import_files(name, Path(path), Path(cache_dir).expanduser() if cache_dir else None)


def data_info(config_ref: str, *, sets: Sequence[str] = (), smoke: bool = False, plot: str | None = None,
              debug: bool = False) -> dict[str, Any]:  # fmt: skip
    """``dlab data info``: the dataset a config loads, without training; see :mod:`dlab.api.data_report`."""
    config = resolve_config(config_ref, sets=list(sets), smoke=smoke)
    start(True, "cpu", debug)  # TensorFlow's start-up lines stay out of the report
    return describe_to(config.data, config.seed, plot=plot)


def render_data_info(report: dict[str, Any]) -> str:
    """The report of :func:`data_info` as console text."""
    return render(report)
