"""A user's own project: where its configs and modules are, read from ``dlab.toml`` or ``pyproject.toml``.

A project is a folder the user owns (``dlab init`` makes one), never a fork of dlab. Like
pytest's rootdir, it is found by walking up from the working folder to the first
``dlab.toml``, or ``pyproject.toml`` with a ``[tool.dlab]`` table::

    [tool.dlab]
    modules = ["models.py", "experiments"]   # imported before a config is resolved
    configs = "configs"                       # YAML configs, runnable by name
    outputs = "outputs"                       # the default outputs root

Every key is optional; ``configs`` defaults to ``configs`` and ``outputs`` to ``outputs``.
A ``dlab.toml`` holds the same keys at its top level (or under ``[tool.dlab]``).

Only standard-library modules are imported here: ``dlab list`` reads the project on
every start.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlab.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PROJECT_FILES = ("dlab.toml", "pyproject.toml")
KNOWN_KEYS = ("modules", "configs", "outputs")


@dataclass(frozen=True)
class Project:
    """A user's project folder and what its ``[tool.dlab]`` table says.

    Attributes:
        root: the folder that holds the project file.
        source: the project file (``dlab.toml`` or ``pyproject.toml``).
        modules: Python files or package folders to import, so that their ``@register``
            experiments exist (absolute paths).
        configs: the folder of the project's YAML configs (absolute; may not exist).
        outputs: the default outputs root of runs started inside the project.
    """

    root: Path
    source: Path
    modules: tuple[Path, ...]
    configs: Path
    outputs: Path

    @property
    def origin(self) -> str:
        """How listings name things that come from this project."""
        return f"project {self.root}"


def find_project(start: str | os.PathLike[str] | None = None) -> Project | None:
    """The project holding ``start`` (default: the working folder), or None outside any.

    ``DLAB_PROJECT`` names a project folder explicitly (an empty value turns discovery off,
    as tests of the packaged catalogue do).

    Raises:
        ConfigError: a project file that cannot be parsed, or a ``[tool.dlab]`` table with an
            unknown key or a wrong type.
    """
    explicit = os.environ.get("DLAB_PROJECT")
    if explicit is not None:
        if not explicit:
            return None
        return _project_in(Path(explicit).expanduser().resolve())
    folder = Path(start if start is not None else os.getcwd()).resolve()
    for candidate in (folder, *folder.parents):
        project = _project_in(candidate)
        if project is not None:
            return project
    return None


def _project_in(folder: Path) -> Project | None:
    for name in PROJECT_FILES:
        path = folder / name
        if not path.is_file():
            continue
        table = _dlab_table(path)
        if table is not None:
            return _project(folder, path, table)
    return None


def _dlab_table(path: Path) -> dict[str, Any] | None:
    """The ``[tool.dlab]`` table of a project file (a dlab.toml's top level counts too)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: not a readable TOML file ({error}). Fix it or remove it.") from None
    table = document.get("tool", {}).get("dlab")
    if table is None and path.name == "dlab.toml":
        table = {key: value for key, value in document.items() if key != "tool"}
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.dlab] must be a table, got {table!r}.")
    return table


def _project(root: Path, source: Path, table: dict[str, Any]) -> Project:
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(unknown)} in [tool.dlab]. Allowed: {', '.join(KNOWN_KEYS)}."
        )
    modules = table.get("modules", [])
    if isinstance(modules, str):
        modules = [modules]
    if not isinstance(modules, list) or not all(isinstance(item, str) for item in modules):
        raise ConfigError(f"{source}: [tool.dlab] modules must be a list of paths, got {modules!r}.")
    for key in ("configs", "outputs"):
        if not isinstance(table.get(key, ""), str):
            raise ConfigError(f"{source}: [tool.dlab] {key} must be a path, got {table[key]!r}.")
    return Project(
        root=root,
        source=source,
        modules=tuple((root / item).resolve() for item in modules),
        configs=(root / table.get("configs", "configs")).resolve(),
        outputs=(root / table.get("outputs", "outputs")).resolve(),
    )
