"""Run labels that say what distinguishes a run from the others shown beside it.

A folder name (``playground-mlp/20261122-101500-259c2a``) tells a reader nothing
about why four runs differ. Runs shown together are therefore labelled by what
differs between their resolved configs (the saved config.yaml):

1. the config name, when the runs come from different configs;
2. otherwise (and within each config) the settings whose values differ across the
   shown runs, by their shortest unambiguous name: ``hidden=[4,2] lr=0.01 seed=43``;
3. the short id of the run folder only when nothing else tells runs apart.

Only settings count, the keys that enter the config hash
(:func:`dlab.config.schema.hashed_settings`): a logging switch (``--tensorboard``),
the backend or a wall-time budget never reads as a difference. A key is named by
the shortest dotted suffix no other shown key shares (``train.optimizer.learning_rate``
-> ``learning_rate``), its last part through :data:`KEY_ALIASES` (``lr``); ``seed`` is
only ever the top-level seed, so a grid point is its label without ``seed=``.

The same keys are the default parameter columns of ``dlab compare`` and
``dlab report``; ``--params`` adds chosen ones (any config key).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dlab.config.schema import hashed_settings
from dlab.errors import UsageError, did_you_mean
from dlab.results.index import SavedRun

NOT_PARAMETERS = ("name", "description", "reference")
"""Config keys that describe a run rather than set it: never a label, never a parameter column."""

KEY_ALIASES = {"learning_rate": "lr", "batch_size": "batch", "weight_decay": "wd"}
"""Short names for the last part of a key in labels (``train.optimizer.learning_rate`` -> ``lr``):
the few settings grids vary most, whose full names would fill a legend. Another key that would
get the same name keeps more of its path (``optimizer.lr``)."""

SEED = "seed"

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


def setting_values(config: dict[str, Any]) -> dict[str, Any]:
    """The settings of a resolved config, flattened: the keys that enter its hash."""
    return config_values(hashed_settings(config))


def differing_keys(runs: Sequence[SavedRun]) -> list[str]:
    """Settings whose values are not the same in every run (runs without a config ignored).

    Only keys that enter the config hash count (:func:`setting_values`). In the order of
    the first config, ``seed`` last (it is the axis read last: a grid point, then its seeds).
    """
    values = [setting_values(run.config) for run in runs if run.config]
    if len(values) < 2:
        return []
    keys = list(dict.fromkeys(key for flat in values for key in flat))
    differ = [key for key in keys if len({_key_of(flat.get(key, _MISSING)) for flat in values}) > 1]
    return sorted(differ, key=lambda key: key == SEED)


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key's shortest name that no other of ``keys`` could also get.

    ``["model.hidden", "train.optimizer.learning_rate", "seed"]`` ->
    ``{"model.hidden": "hidden", "train.optimizer.learning_rate": "lr", "seed": "seed"}``.
    A name is a suffix of the key's dotted parts with :data:`KEY_ALIASES` applied to the last
    one; ``seed`` is kept for the top-level seed (a grid point is its label without it).
    """
    options = {key: _suffixes(key) for key in keys}
    taken: dict[str, int] = {}
    for names in options.values():
        for name in set(names):
            taken[name] = taken.get(name, 0) + 1
    taken[SEED] = taken.get(SEED, 0) + (0 if SEED in keys else 1)
    return {key: next((n for n in names if taken[n] == 1), key) for key, names in options.items()}


def compact_labels(labels: Sequence[str]) -> list[str]:
    """Labels with their ``key=value`` words renamed by :func:`short_names` across all of them.

    ``["model.hidden=[2] train.optimizer.learning_rate=0.01", ...]`` -> ``["hidden=[2] lr=0.01",
    ...]``; other words (a config name) stay. For labels made elsewhere (a sweep's members,
    named by their ``--grid``/``--set`` overrides) where a figure has room for few characters.
    """
    words = [label.split(" ") for label in labels]
    keys = list(dict.fromkeys(word.partition("=")[0] for line in words for word in line if _assignment(word)))
    names = short_names(keys)
    return [
        " ".join(
            f"{names[word.partition('=')[0]]}={word.partition('=')[2]}" if _assignment(word) else word
            for word in line
        )
        for line in words
    ]


def _assignment(word: str) -> bool:
    key, equals, _ = word.partition("=")
    return bool(equals) and bool(key) and all(part.isidentifier() for part in key.split("."))


def _suffixes(key: str) -> list[str]:
    """A key's candidate names, shortest first: each suffix of its parts, aliased, then as is."""
    parts = key.split(".")
    names = []
    for size in range(1, len(parts) + 1):
        tail = parts[-size:]
        names.append(".".join([*tail[:-1], KEY_ALIASES.get(tail[-1], tail[-1])]))
    return [*names, key]


def _key_of(value: Any) -> str:
    return "\0missing" if value is _MISSING else json.dumps(value, sort_keys=True, default=str)


def short_id(run: SavedRun) -> str:
    """The random part of a run folder's name (``259c2a`` of ``20261122-101500-259c2a``)."""
    return run.path.name.rsplit("-", 1)[-1] or run.path.name


def _describe(run: SavedRun, keys: Sequence[str], names: dict[str, str]) -> str:
    flat = setting_values(run.config)
    return " ".join(f"{names[key]}={format_value(flat.get(key, _MISSING))}" for key in keys)


def label_parts(runs: Sequence[SavedRun]) -> list[tuple[str, str]]:
    """Per run ``(config name, what tells it apart from the other runs of that config)``.

    The second part is the differing settings (:func:`differing_keys` within the config),
    with the run's short id added where that leaves two runs alike; it is the short id alone
    when nothing differs, and ``""`` for the only run of its config.
    """
    names = [run.config_name for run in runs]
    described = [""] * len(runs)
    for name in dict.fromkeys(names):
        members = [index for index, other in enumerate(names) if other == name]
        group = [runs[index] for index in members]
        keys = differing_keys(group)
        short = short_names(keys)
        for index in members:
            described[index] = _describe(runs[index], keys, short) if keys and runs[index].config else ""
    counts: dict[tuple[str, str], int] = {}
    for pair in zip(names, described, strict=True):
        counts[pair] = counts.get(pair, 0) + 1
    parts = []
    for run, name, text in zip(runs, names, described, strict=True):
        if counts[(name, text)] > 1:
            text = f"{text} {short_id(run)}".strip()
        parts.append((name, text))
    return parts


def run_labels(runs: Sequence[SavedRun]) -> list[str]:
    """One label per run (see the module docstring); labels are unique."""
    parts = label_parts(runs)
    several = len({name for name, _ in parts}) > 1
    labels = [
        " ".join(part for part in (name if several or not text else "", text) if part) for name, text in parts
    ]
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return [
        f"{label} {short_id(run)}" if counts[label] > 1 else label
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
    return " ".join(part for part in run.label.split(" ") if not part.startswith(f"{SEED}="))
