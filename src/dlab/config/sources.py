"""Where runnable configs come from: the user's project, installed plugins, dlab's own catalogue.

A config name is looked up in this order, and a name that two places claim is an error
naming both (a project config silently shadowing a packaged one would make a run mean
different things in different folders):

1. the project's ``configs`` folder (see :mod:`dlab.config.project`);
2. installed plugins: every entry point of the group ``dlab.configs`` names a package whose
   folder holds YAML configs, so ``pip install some-course-labs`` adds them::

       [project.entry-points."dlab.configs"]
       course-labs = "course_labs.configs"

3. the configs packaged with dlab (``dlab.configs``).

Only the standard library is used: ``dlab list`` reads these on every start.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from dlab.config.project import find_project
from dlab.errors import ConfigError

CONFIG_ENTRY_POINTS = "dlab.configs"
EXPERIMENT_ENTRY_POINTS = "dlab.experiments"
PACKAGED = "dlab"
ENTRY_POINTS_CACHE = "entry-points.json"


@dataclass(frozen=True)
class ConfigSource:
    """A folder of YAML configs and who provides it (``dlab``, ``plugin NAME``, ``project ROOT``)."""

    origin: str
    folder: Path


@dataclass(frozen=True)
class ConfigEntry:
    """One runnable config: its name (the file's stem), file and origin."""

    name: str
    path: Path
    origin: str
    clash: str | None = None
    """Why the name cannot be used: a second source claims it too (None: it is the only one)."""


def packaged_configs_dir() -> Path:
    """The folder of YAML configs shipped inside the package (``dlab.configs``)."""
    return Path(str(resources.files("dlab.configs")))


def config_sources() -> list[ConfigSource]:
    """Every folder configs are read from, in lookup order (project, plugins, dlab)."""
    sources = []
    project = find_project()
    if project is not None and project.configs.is_dir():
        sources.append(ConfigSource(project.origin, project.configs))
    sources.extend(plugin_config_sources())
    sources.append(ConfigSource(PACKAGED, packaged_configs_dir()))
    return sources


def cache_folder() -> Path:
    """Where dlab keeps caches that can be rebuilt at any time (``$XDG_CACHE_HOME/dlab``)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "dlab"


@dataclass(frozen=True)
class PluginEntry:
    """One entry point of a dlab group: its name, the module it names and the distribution."""

    name: str
    module: str
    distribution: str


@functools.cache
def plugin_entries(group: str) -> tuple[PluginEntry, ...]:
    """The entry points of ``group`` in the installed distributions, sorted by name.

    Reading every distribution's metadata costs ~0.1 s with a few hundred installed, on every
    command, ``dlab list`` included; so the answer is kept in the cache folder under a
    fingerprint of the import path's folders (a ``pip install`` or uninstall changes its
    folder's modification time) and read again only when that changes.
    """
    key = _installed_fingerprint()
    path = cache_folder() / ENTRY_POINTS_CACHE
    cached = _read_cache(path)
    if cached.get("fingerprint") == key and group in cached.get("groups", {}):
        return tuple(PluginEntry(*item) for item in cached["groups"][group])
    entries = tuple(
        PluginEntry(entry.name, entry.module, entry.dist.name if entry.dist is not None else entry.name)
        for entry in sorted(metadata.entry_points(group=group), key=lambda item: item.name)
    )
    groups = cached.get("groups", {}) if cached.get("fingerprint") == key else {}
    groups[group] = [[entry.name, entry.module, entry.distribution] for entry in entries]
    _write_cache(path, {"fingerprint": key, "groups": groups})
    return entries


def _write_cache(path: Path, data: dict) -> None:
    """Write the cache whole or not at all (a temporary file renamed over it); a read-only or
    full home folder means no cache, and the same answers."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(temporary)


def _installed_fingerprint() -> str:
    stamps = []
    for folder in sys.path:
        try:
            stamps.append(f"{folder}:{os.stat(folder or '.').st_mtime_ns}")
        except OSError:
            continue
    return hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:16]


def _read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@functools.lru_cache(maxsize=1)
def plugin_config_sources() -> tuple[ConfigSource, ...]:
    """The config folders that installed distributions declare (entry-point group ``dlab.configs``).

    Raises:
        ConfigError: an entry point whose package cannot be found.
    """
    sources = []
    for entry in plugin_entries(CONFIG_ENTRY_POINTS):
        distribution = entry.distribution
        try:
            folder = Path(str(resources.files(entry.module)))
        except (ModuleNotFoundError, TypeError) as error:
            raise ConfigError(
                f"The plugin {distribution} declares configs in {entry.module!r} "
                f"(entry point {CONFIG_ENTRY_POINTS}:{entry.name}), which cannot be imported: {error}. "
                "Reinstall or uninstall it."
            ) from None
        sources.append(ConfigSource(f"plugin {distribution}", folder))
    return tuple(sources)


def config_catalogue() -> dict[str, ConfigEntry]:
    """Every runnable config by name, from every source.

    A name that two sources claim is kept with its :attr:`ConfigEntry.clash` set: looking it up
    is an error naming both (:func:`entry`), while every other config stays usable, so an
    installed plugin that ships a name dlab has does not stop `dlab run` of the rest.
    """
    entries: dict[str, ConfigEntry] = {}
    for source in config_sources():
        for path in sorted(source.folder.glob("*.yaml")):
            earlier = entries.get(path.stem)
            if earlier is None:
                entries[path.stem] = ConfigEntry(path.stem, path, source.origin)
                continue
            advice = "uninstall the plugin or ask for a rename" if "plugin" in source.origin else "rename one"
            entries[path.stem] = ConfigEntry(
                earlier.name,
                earlier.path,
                earlier.origin,
                clash=f"The config name '{path.stem}' is claimed twice: by {earlier.origin} ({earlier.path}) "
                f"and by {source.origin} ({path}). {advice[0].upper()}{advice[1:]} (a variant of a "
                "packaged config takes a name of its own and `extends:` it).",
            )
    return entries


def entry(name: str, entries: dict[str, ConfigEntry]) -> ConfigEntry | None:
    """The config called ``name`` (None: there is none).

    Raises:
        ConfigError: two sources claim the name (both are named).
    """
    found = entries.get(name)
    if found is not None and found.clash:
        raise ConfigError(found.clash)
    return found
