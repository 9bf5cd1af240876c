"""Run labels that say what distinguishes a run from the others shown beside it.

A folder name (``playground-mlp/20261122-101500-259c2a``) tells a reader nothing
about why four runs differ. Runs shown together are therefore labelled by what
differs between their resolved configs (the saved config.yaml):

1. the config name, when the runs come from different configs;
2. otherwise (and within each config) the keys whose values differ across the
   shown runs, ``model.hidden=[4,2] seed=43``;
3. the short id of the run folder only when nothing else tells runs apart.

The same keys are the default parameter columns of ``dlab compare`` and
``dlab report``; ``--params`` adds chosen ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dlab.errors import UsageError, did_you_mean
from dlab.results.index import SavedRun

NOT_PARAMETERS = ("name", "description", "reference")
"""Config keys that describe a run rather than set it: never a label, never a parameter column."""

_MISSING = object()


def config_values(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A resolved config as ``{"model.hidden": [4, 2], "seed": 42, ...}`` (lists are values)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if not prefix and key in NOT_PARAMETERS:
            continue
        if isinstance(value, dict) and value:
            flat.update(config_values(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def format_value(value: Any) -> str:
    """A config value as a label shows it: ``[4,2]``, ``0.03``, ``relu``, ``null``."""
    if value is _MISSING:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def differing_keys(runs: Sequence[SavedRun]) -> list[str]:
    """Config keys whose values are not the same in every run (runs without a config ignored).

    In the order of the first config, ``seed`` last (it is the axis read last: a grid
    point, then its seeds).
    """
    values = [config_values(run.config) for run in runs if run.config]
    if len(values) < 2:
        return []
    keys = list(dict.fromkeys(key for flat in values for key in flat))
    differ = [key for key in keys if len({_key_of(flat.get(key, _MISSING)) for flat in values}) > 1]
    return sorted(differ, key=lambda key: key == "seed")


def _key_of(value: Any) -> str:
    return "\0missing" if value is _MISSING else json.dumps(value, sort_keys=True, default=str)


def short_id(run: SavedRun) -> str:
    """The random part of a run folder's name (``259c2a`` of ``20261122-101500-259c2a``)."""
    return run.path.name.rsplit("-", 1)[-1] or run.path.name


def _describe(run: SavedRun, keys: Sequence[str]) -> str:
    flat = config_values(run.config)
    return " ".join(f"{key}={format_value(flat.get(key, _MISSING))}" for key in keys)


def run_labels(runs: Sequence[SavedRun]) -> list[str]:
    """One label per run (see the module docstring); labels are unique."""
    if len(runs) == 1:
        return [runs[0].config_name]
    names = [run.config_name for run in runs]
    labels = []
    for run, name in zip(runs, names, strict=True):
        group = [other for other, other_name in zip(runs, names, strict=True) if other_name == name]
        keys = differing_keys(group)
        parts = [name] if len(set(names)) > 1 else []
        described = _describe(run, keys) if keys and run.config else ""
        labels.append(" ".join(part for part in (*parts, described) if part))
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return [
        f"{label} {short_id(run)}".strip() if counts[label] > 1 or not label else label
        for run, label in zip(runs, labels, strict=True)
    ]


def label_runs(runs: list[SavedRun]) -> list[str]:
    """Give every run its distinguishing label; return the differing keys (the default columns)."""
    for run, label in zip(runs, run_labels(runs), strict=True):
        run.label = label
    return differing_keys(runs)


def parameter_columns(runs: Sequence[SavedRun], requested: Sequence[str]) -> list[str]:
    """The config keys shown as columns: the ones that differ, plus ``requested`` (``--params``).

    ``requested`` may hold comma-separated keys. A key that no run's config has is an error.

    Raises:
        UsageError: an unknown key, naming the keys that exist.
    """
    chosen = differing_keys(runs)
    known = list(dict.fromkeys(key for run in runs for key in config_values(run.config)))
    for item in requested:
        for key in (part.strip() for part in item.split(",")):
            if not key:
                continue
            if key not in known:
                raise UsageError(
                    f"--params '{key}': no run's config has that key."
                    + did_you_mean(key, known)
                    + " Keys in these runs' configs: "
                    + (", ".join(known) if known else "(none: the runs have no readable config.yaml)")
                    + "."
                )
            if key not in chosen:
                chosen.append(key)
    return chosen


def parameter_value(run: SavedRun, key: str) -> str:
    """One run's value of a config key as a table shows it (``-`` when it has none)."""
    return format_value(config_values(run.config).get(key, _MISSING))


def member_key(run: SavedRun) -> str:
    """What identifies a run's grid point: its label without the seed (runs of one member share it)."""
    return " ".join(part for part in run.label.split(" ") if not part.startswith("seed="))
