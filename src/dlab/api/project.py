"""``dlab init``: a project folder of the user's own, with a working example.

The project is the user's from the first second: dlab writes it once and never touches it
again. ``init`` refuses a folder that already holds any of the files it would write, so
nothing of the user's is overwritten (an empty or new folder is fine).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from dlab.errors import UsageError
from dlab.fileio import atomic_path
from dlab.framework.config_schema import SCHEMA_FILE
from dlab.framework.config_schema import config_schema as framework_config_schema

TEMPLATE_PACKAGE = "dlab.templates.project"
RENAMED = {"gitignore": ".gitignore"}
"""Template files stored under another name (a .gitignore inside the package would be read by git)."""

EXAMPLE_ROWS = 500


def init_project(folder: str | os.PathLike[str]) -> list[Path]:
    """Write a new project into ``folder``: configs/ (with the config schema its editor reads),
    models.py, data/houses.csv, dlab.toml, .gitignore and a README.

    Returns:
        The files written, in order.

    Raises:
        UsageError: ``folder`` is a file, or already holds a file this would write.
    """
    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise UsageError(f"dlab init: {root} is a file; give a new or empty folder.")
    plan = _template_files(root) + [
        (write_houses_csv, root / "data" / "houses.csv"),
        (write_config_schema, root / "configs" / SCHEMA_FILE),
    ]
    taken = [str(target) for _, target in plan if target.exists()]
    if taken:
        raise UsageError(
            f"dlab init: {root} already holds {', '.join(taken)}; nothing was written. "
            "Give a new folder, or move those files away."
        )
    written = []
    for source, target in plan:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as temporary:
            if callable(source):
                source(temporary)
            else:
                with resources.as_file(source) as path:
                    shutil.copyfile(path, temporary)
        written.append(target)
    return written


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a config file (``dlab schema``): see :mod:`dlab.framework.config_schema`.
    Experiments of the project's modules and installed plugins are in it, as ``dlab run`` sees them."""
    return framework_config_schema()


def write_config_schema(path: str | os.PathLike[str]) -> Path:
    """Write :func:`config_schema` as JSON to ``path`` (atomically); the modeline of a config
    beside it (``# yaml-language-server: $schema=dlab-config.schema.json``) then finds it."""
    target = Path(path).expanduser()
    text = json.dumps(config_schema(), indent=2, sort_keys=False) + "\n"
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return target


def _template_files(root: Path) -> list[tuple[resources.abc.Traversable | Callable[[Path], object], Path]]:
    files = []
    pending = [(resources.files(TEMPLATE_PACKAGE), Path())]
    while pending:
        folder, relative = pending.pop()
        for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
            if item.name in {"__init__.py", "__pycache__"}:
                continue
            if item.is_dir():
                pending.append((item, relative / item.name))
            else:
                files.append((item, root / relative / RENAMED.get(item.name, item.name)))
    return files


def write_houses_csv(path: Path, rows: int = EXAMPLE_ROWS, seed: int = 0) -> None:
    """A generated table of houses: five inputs (one of them categorical), a price and its band.

    The price depends on every input plus noise, so a model has something to learn; the band
    is the price's tertile (0 cheap, 1 middle, 2 dear), balanced by construction.
    """
    rng = np.random.default_rng(seed)
    districts = np.array(["north", "south", "centre"])
    district = rng.integers(0, 3, rows)
    rooms = rng.integers(1, 7, rows)
    area = np.round(rng.normal(25, 6, rows) * rooms + 20, 1)
    age = rng.integers(0, 80, rows)
    distance = np.round(rng.exponential(5, rows), 2)
    price = 50 + 1.6 * area - 0.6 * age - 4.0 * distance + np.array([0, -20, 45])[district]
    price = np.round(price + rng.normal(0, 15, rows), 1)
    band = np.searchsorted(np.quantile(price, [1 / 3, 2 / 3]), price, side="right")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rooms", "area", "age", "distance", "district", "price", "band"])
        for row in zip(rooms, area, age, distance, districts[district], price, band, strict=True):
            writer.writerow(row)
