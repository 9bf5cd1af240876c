"""Where each value of a run's config came from, read back from metrics.json's ``provenance``.

``dlab diff A B`` says, per differing key, what set it: a file of the ``extends``
chain (by its name), ``--set``, a named flag (``--epochs``), ``--smoke``, or
``default``. A run records how it was started in metrics.json's ``provenance``
block: ``config_files`` (the chain, base first), ``overrides`` (the ``--set``
strings as typed), ``flags`` (the named flags given) and, from newer runs,
``set_by`` (key -> the flag or ``--set`` that set it, as the config resolution
recorded it). The resolution applies them in one order (files, ``--smoke``, named
flags, ``--set``), so later ones win here too.

metrics.json may come from any dlab version, from a crash, or from someone's
editor, so everything is read defensively: a field of the wrong type is ignored,
a config file that no longer exists or does not parse leaves its keys unplaced.
A run without provenance (older than it) gets ``None``: the caller falls back to
saying the value came from the run's saved config.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlab.config.overrides import flatten_dotted
from dlab.config.schema import SMOKE_DEFAULTS
from dlab.config.yamlload import load_yaml
from dlab.errors import UsageError
from dlab.saferead import read_regular_text

DEFAULT = "default"
SET, SMOKE = "--set", "--smoke"


@dataclass
class Origins:
    """Key -> where its value came from, and whether every config file could be read."""

    by_key: dict[str, str] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)  # config files that are gone or do not parse


def run_origins(metrics: Mapping[str, Any], config: Mapping[str, Any]) -> Origins | None:
    """The origins of a run's config values from its metrics.json, or None without provenance.

    Args:
        metrics: the run's metrics.json (its ``provenance`` block is read).
        config: the run's saved config, to find the key a named flag set (``--epochs`` ->
            ``train.epochs``) when the run did not record ``set_by``.
    """
    provenance = metrics.get("provenance")
    if not isinstance(provenance, dict):
        return None
    origins = Origins()
    for path in _strings(provenance.get("config_files")):
        keys = file_keys(Path(path))
        if keys is None:
            origins.unread.append(Path(path).name)
            continue
        origins.by_key.update(dict.fromkeys(keys, path))
    set_by = provenance.get("set_by")
    if isinstance(set_by, dict):  # recorded by the resolution itself: exact
        origins.by_key.update({str(key): str(value) for key, value in set_by.items() if value})
        return origins
    flags = provenance.get("flags") if isinstance(provenance.get("flags"), dict) else {}
    if flags.get("smoke"):
        origins.by_key.update(dict.fromkeys(SMOKE_DEFAULTS, SMOKE))
    names = list(flatten_dotted(dict(config)))
    for flag, value in flags.items():
        key = flag_key(str(flag), names)
        if key is not None and value is not None and flag != "smoke":
            origins.by_key[key] = f"--{str(flag).replace('_', '-')}"
    for assignment in _strings(provenance.get("overrides")):
        key = assignment.partition("=")[0].strip()
        if key:
            origins.by_key[key] = SET
    return origins


def flag_key(flag: str, keys: list[str]) -> str | None:
    """The config key a named flag sets: the shortest key whose last part is the flag's name
    (``epochs`` -> ``train.epochs``) or starts with it (``jit`` -> ``train.jit_compile``)."""
    matches = [key for key in keys if (last := key.rsplit(".", 1)[-1]) == flag or last.startswith(f"{flag}_")]
    return min(matches, key=lambda key: (key.count("."), key.rsplit(".", 1)[-1] != flag), default=None)


def file_keys(path: Path) -> list[str] | None:
    """The keys a config file sets itself (leaves; ``extends`` aside); None when it cannot be read."""
    try:
        data = load_yaml(read_regular_text(path), str(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, UsageError):
        return None
    if not isinstance(data, dict):
        return None
    data.pop("extends", None)
    return list(flatten_dotted(data))


def leaf_origins(origins: Mapping[str, str]) -> dict[str, str]:
    """Origins without the section entries a file records beside its keys (``train`` beside
    ``train.epochs``): a section counts only where it was set whole (``--set train.optimizer=...``),
    so a default inside a section a file touched is not credited to that file."""
    return {
        key: origin
        for key, origin in origins.items()
        if not any(other.startswith(f"{key}.") and origins[other] == origin for other in origins)
    }


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
