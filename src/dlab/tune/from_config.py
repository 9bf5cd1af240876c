"""Tuning any runnable config from the command line: ``dlab tune CONFIG --space KEY=SPEC``.

A tuner config (``experiment: keras_tuner``) names a target experiment, the ``model:``
section it starts from and a search space. Writing one by hand means knowing those internal
names; this module writes it from a config the user already runs, so that

    dlab tune houses-band --space model.units=choice:16,32,64 \\
        --space train.optimizer.learning_rate=log:1e-4..1e-2

searches houses-band's own experiment, data and training settings over those two keys.
Each trial is then an ordinary config of that experiment, and the best one is written as
best-config.yaml, which ``dlab run`` accepts as it is.

A SPEC is one of:

- ``int:MIN..MAX`` or ``int:MIN..MAX:STEP`` (``int:32..256:32``);
- ``float:MIN..MAX`` (linear), ``log:MIN..MAX`` (log sampling, MIN > 0);
- ``choice:A,B,C`` (numbers, strings or true/false);
- ``bool`` (true or false).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dlab.errors import ConfigError
from dlab.fileio import atomic_write_text
from dlab.framework.catalogue import experiment_of
from dlab.usercode import find_module_path, split_reference

SPEC_FORMS = "int:MIN..MAX[:STEP], float:MIN..MAX, log:MIN..MAX, choice:A,B,C or bool"
SEARCH_KEYS = ("algorithm", "objective", "max_trials")
"""What the command line may set of the search itself (the rest keeps the tuner's defaults)."""


def parse_space(specs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["model.units=choice:16,32"]`` -> ``{"model.units": {"type": "choice", "values": [16, 32]}}``.

    The entries are validated later with the tuner's own schema (types, ranges, sampling),
    so a bad range gets the same message as in a YAML search.

    Raises:
        ConfigError: a spec without ``=``, a key given twice, or a SPEC of no known form.
    """
    space: dict[str, dict[str, Any]] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise ConfigError(
                f"--space {spec!r}: write KEY=SPEC, e.g. --space model.units=choice:16,32,64 "
                f"(SPEC: {SPEC_FORMS})."
            )
        if key in space:
            raise ConfigError(f"--space {key} is given twice; give each key once.")
        space[key] = parse_spec(key, value.strip())
    return space


def parse_spec(key: str, spec: str) -> dict[str, Any]:
    """One SPEC (see the module docstring) as a search-space entry."""
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "bool" and not rest:
        return {"type": "boolean"}
    if kind == "choice" and rest:
        return {"type": "choice", "values": [_scalar(item) for item in rest.split(",")]}
    if kind in {"int", "float", "log"} and ".." in rest:
        bounds, _, step = rest.partition(":")
        low, _, high = bounds.partition("..")
        number = int if kind == "int" else float
        entry: dict[str, Any] = {
            "type": "int" if kind == "int" else "float",
            "min": _number(key, low, number),
            "max": _number(key, high, number),
        }
        if kind == "log":
            entry["sampling"] = "log"
        if step:
            entry["step"] = _number(key, step, number)
        return entry
    raise ConfigError(f"--space {key}={spec}: not a SPEC dlab knows. Write {SPEC_FORMS}.")


def _number(key: str, text: str, kind: type) -> int | float:
    try:
        return kind(float(text)) if kind is int and "e" in text.lower() else kind(text)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise ConfigError(f"--space {key}: {text!r} is not {expected}.") from None


def _scalar(text: str) -> Any:
    """A choice as YAML reads it: ``32`` an int, ``0.5`` a float, ``true`` a boolean, else a string."""
    value = yaml.safe_load(text.strip())
    return value if isinstance(value, (bool, int, float, str)) else text.strip()


def tuner_config(
    data: dict[str, Any], space: dict[str, dict[str, Any]], search: dict[str, Any]
) -> dict[str, Any]:
    """A tuner config (as a dict) that searches the runnable config ``data`` over ``space``.

    Args:
        data: the runnable config, resolved (``extends`` followed): its experiment becomes
            the search's target, its ``model:`` the base every trial starts from, and its data
            and training settings those of every trial.
        space: the search space (from :func:`parse_space`).
        search: ``algorithm``, ``objective``, ``max_trials`` as given on the command line
            (None: the tuner's default).

    Raises:
        ConfigError: ``data`` is a tuner config already (it has a search space of its own).
    """
    experiment = experiment_of(data)  # a model function of the user's own: the builder
    if experiment == "keras_tuner":
        raise ConfigError(
            "--space tunes a runnable config, and this is a tuner config already: run it without "
            "--space, or put the keys into its model.search_space."
        )
    tuned = copy.deepcopy(data)
    tuned.pop("reference", None)  # a reference describes the config's own result, not a search's
    tuned["experiment"] = "keras_tuner"
    tuned["model"] = {
        "target": experiment,
        "base_model": tuned.get("model", {}),
        "search_space": space,
        **{key: value for key, value in search.items() if key in SEARCH_KEYS and value is not None},
    }
    if tuned.get("data", {}).get("validation", "test") == "test":
        # choosing hyperparameters on the test split would report a score it was tuned on
        tuned.setdefault("data", {})["validation"] = 0.2
    return tuned


def anchored(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The config with paths that were relative to its own folder made absolute.

    The tuner config is written elsewhere, so ``model.build: models.py:build`` beside the config
    would no longer be found from it; a relative ``data.path`` stays as it is (it is relative to
    the working folder, as in every config).
    """
    model = data.get("model")
    if isinstance(model, dict) and isinstance(model.get("build"), str):
        module, name = split_reference(model["build"], what="model.build")
        found = find_module_path(module, [folder])
        if found is not None and not Path(module).is_absolute():
            data = {**data, "model": {**model, "build": f"{found}:{name}"}}
    return data


def write_tuner_config(tuned: dict[str, Any], folder: Path, name: str) -> Path:
    """Save the tuner config as ``folder/NAME-HASH.yaml`` (the hash of its content) and return it.

    The same search always gets the same file (a chief and its workers each write it, the same
    bytes), and a changed search a new one: no file is ever overwritten with other content.
    """
    text = yaml.safe_dump({"name": name, **tuned}, sort_keys=False)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    path = folder / f"{name}-{digest}.yaml"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    return path
