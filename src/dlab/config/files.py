"""Config files: finding one by name or path, safe YAML reading and the ``extends`` chain."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from dlab.config.overrides import flatten_keys
from dlab.config.sources import config_catalogue, entry, packaged_configs_dir  # noqa: F401 (callers import it from here)
from dlab.config.yamlload import load_yaml
from dlab.errors import ConfigError, did_you_mean

# libyaml's safe loader parses the packaged configs ~7x faster than the pure-Python one


def config_names() -> list[str]:
    """Names of every runnable config (the project's, plugins', dlab's), sorted."""
    return sorted(config_catalogue())


def find_config(ref: str) -> Path:
    """Turn a config name (``cnn-cifar10``) or a YAML path into an existing file.

    Raises:
        ConfigError: nothing by that name or path; the message lists close names.
    """
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref
    if looks_like_path:
        path = Path(ref).expanduser()
        if path.is_file():
            return path
        raise ConfigError(
            f"Config file not found: {ref}. Give an existing .yaml file or the "
            "name of a packaged config (see `dlab list`)."
        )
    catalogue = config_catalogue()
    found = entry(ref, catalogue)
    if found is not None:
        return found.path
    names = sorted(catalogue)
    raise ConfigError(
        f"Unknown experiment or config '{ref}'.{did_you_mean(ref, names)} "
        f"Available: {', '.join(names)}. Run `dlab list` to see them with descriptions."
    )


_PARSED: dict[tuple[str, int, int], dict[str, Any]] = {}
"""Parsed files by (path, mtime, size): ``dlab list`` reads a parent once, not once per variant."""


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one YAML config file into a dict (a fresh copy; an unchanged file is parsed once).

    Raises:
        ConfigError: a syntax error (with file, line and column) or a top level that is
            not a mapping.
    """
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    if key in _PARSED:
        return copy.deepcopy(_PARSED[key])
    data = _parse_yaml(path)
    if key is not None:
        _PARSED[key] = copy.deepcopy(data)
    return data


def _parse_yaml(path: Path) -> dict[str, Any]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), str(path))  # bounded: alias bombs, repeated keys
    except yaml.constructor.ConstructorError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{path}{where}: {error.problem}. dlab reads YAML with the safe loader "
            "only: tags such as !!python/object that build Python objects or run "
            "code are refused. Write plain values (numbers, strings, lists, "
            "mappings)."
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(
            f"YAML syntax error in {path}{where}: {problem}. Fix the file and run again."
        ) from error
    except OSError as error:
        raise ConfigError(f"Cannot read config file {path}: {error.strerror}.") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a mapping of keys (experiment:, data:, train: ...), "
            f"not a {type(data).__name__}."
        )
    return data


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into a copy of ``base``: mappings merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def extends_chain(path: Path) -> list[Path]:
    """The config files a config is read from, base first: ``path`` and every file it
    ``extends`` (what a run's provenance names). A chain that cannot be read stops where it
    breaks; :func:`load_yaml_chain` has already refused it when a run gets here."""
    chain: list[Path] = []
    current: Path | None = path
    while current is not None and current.resolve() not in chain:
        chain.insert(0, current.resolve())
        try:
            parent_ref = read_yaml(current).get("extends")
        except ConfigError:
            break
        if not isinstance(parent_ref, str):
            break
        parent_path = current.parent / parent_ref
        if not (parent_ref.endswith((".yaml", ".yml")) and parent_path.is_file()):
            try:
                parent_path = find_config(parent_ref)
            except ConfigError:
                break
        current = parent_path
    return chain


def load_yaml_chain(path: Path, origins: dict[str, str], _seen: tuple[Path, ...] = ()) -> dict:
    """Read a config and everything it ``extends`` (base first), recording key origins.

    ``extends`` names a packaged config or a path relative to the extending file. A
    parent's ``name`` is not inherited: a variant is named after its own file.
    """
    resolved = path.resolve()
    if resolved in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, resolved))
        raise ConfigError(f"`extends` loops back on itself: {chain}.")
    data = read_yaml(path)
    parent_ref = data.pop("extends", None)
    merged: dict[str, Any] = {}
    if parent_ref is not None:
        if not isinstance(parent_ref, str):
            raise ConfigError(f"`extends` in {path} must be a config name or a path, got {parent_ref!r}.")
        parent_path = path.parent / parent_ref
        if not (parent_ref.endswith((".yaml", ".yml")) and parent_path.is_file()):
            parent_path = find_config(parent_ref)
        merged = load_yaml_chain(parent_path, origins, (*_seen, resolved))
        merged.pop("name", None)
    for key in flatten_keys(data):
        origins[key] = str(path)
    combined = deep_merge(merged, data)
    if isinstance(data.get("reference"), dict) and isinstance(combined.get("reference"), dict):
        # a variant's reference entry replaces its parent's whole entry: a band must not
        # inherit the parent's point value (one entry, one kind)
        combined["reference"].update(copy.deepcopy(data["reference"]))
    return combined
