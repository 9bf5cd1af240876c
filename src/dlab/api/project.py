"""``dlab init``: a project folder of the user's own, with a working example.

The project is the user's from the first second: dlab writes it once and never touches it
again. ``init`` refuses a folder that already holds any of the files it would write, so
nothing of the user's is overwritten (an empty or new folder is fine).
"""

from __future__ import annotations

import csv
import os
import shutil
from importlib import resources
from pathlib import Path

import numpy as np

from dlab.errors import UsageError
from dlab.fileio import atomic_path

TEMPLATE_PACKAGE = "dlab.templates.project"
RENAMED = {"gitignore": ".gitignore"}
"""Template files stored under another name (a .gitignore inside the package would be read by git)."""

EXAMPLE_ROWS = 500


def init_project(folder: str | os.PathLike[str]) -> list[Path]:
    """Write a new project into ``folder``: configs/, models.py, data/houses.csv, dlab.toml,
    .gitignore and a README.

    Returns:
        The files written, in order.

    Raises:
        UsageError: ``folder`` is a file, or already holds a file this would write.
    """
    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise UsageError(f"dlab init: {root} is a file; give a new or empty folder.")
    plan = _template_files(root) + [(None, root / "data" / "houses.csv")]
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
            if source is None:
                write_houses_csv(temporary)
            else:
                with resources.as_file(source) as path:
                    shutil.copyfile(path, temporary)
        written.append(target)
    return written


def _template_files(root: Path) -> list[tuple[resources.abc.Traversable | None, Path]]:
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
