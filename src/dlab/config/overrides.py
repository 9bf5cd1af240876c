"""Overrides: ``--set key.path=value`` parsing, dotted keys, and flattening a config to them."""

from __future__ import annotations

import re
from typing import Any

import yaml

from dlab.config.yamlload import clip, load_yaml
from dlab.errors import ConfigError

_SET_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def flatten_keys(data: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        keys.append(dotted)
        if isinstance(value, dict):
            keys.extend(flatten_keys(value, dotted + "."))
    return keys


def flatten_dotted(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"train": {"epochs": 3}}`` -> ``{"train.epochs": 3}``: compare two configs key by key.

    Empty mappings stay as values, so a section that was emptied still shows as a change.
    """
    if isinstance(data, dict) and data:
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(flatten_dotted(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


# --------------------------------------------------------------------------- overrides


def parse_set(assignment: str) -> tuple[str, Any]:
    """Split ``--set key.path=value`` and parse the value as YAML.

    Raises:
        ConfigError: no ``=``, or a key that is not a dotted name.
    """
    if "=" not in assignment:
        raise ConfigError(
            f"--set expects KEY=VALUE (e.g. --set train.batch_size=64), "
            f"got '{clip(assignment)}': there is no '='."
        )
    key, _, text = assignment.partition("=")
    key = key.strip()
    if not _SET_KEY.match(key):
        raise ConfigError(
            f"--set '{clip(assignment)}': '{clip(key, 80)}' is not a dotted key such as "
            "train.optimizer.learning_rate."
        )
    try:
        value = load_yaml(text, f"--set {key}") if text.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(
            f"--set '{clip(assignment)}': the value is not valid YAML ({clip(error)})."
        ) from None
    return key, value


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data['a']['b'] = value`` for ``key='a.b'``, creating mappings on the way."""
    *parents, leaf = key.split(".")
    node = data
    for i, part in enumerate(parents):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(parents[: i + 1])
            raise ConfigError(
                f"Cannot set '{key}': '{where}' is a value ({clip(repr(child))}), not a section with keys."
            )
        node = child
    node[leaf] = value
