"""Where a config meets the registry: a config name or file becomes a validated :class:`RunConfig`.

The one place that knows both the config schema and the registered experiments,
as Model Garden's ``exp_factory`` is for its registry and configs. A run's
config is resolved in one fixed order, each layer overriding the last:

    defaults (the schema in :mod:`dlab.config.schema`)
      -> YAML (the ``extends`` chain, base first)
      -> ``--smoke`` (synthetic data, few samples, one epoch; an experiment may add to it)
      -> named flags (``--epochs``, ``--batch-size``, ``--seed``, ``--precision`` ...)
      -> ``--set key.path=value`` (repeatable, value parsed as YAML)

Every key is checked: an unknown key, a wrong type or an out-of-range value
raises :class:`~dlab.errors.ConfigError` naming the key, where it came from,
what is allowed and the closest match. The ``model`` section is validated by
the experiment's own schema.

Example:
    >>> cfg = resolve_config("cnn-cifar10", sets=["train.epochs=2"])
    >>> cfg.train.epochs
    2
"""

from __future__ import annotations

from typing import Any

from dlab.config import (
    SMOKE_DEFAULTS,
    RunConfig,
    find_config,
    load_yaml_chain,
    parse_set,
    set_dotted,
    validate_section,
)
from dlab.config.schema import OWN_FILE_DATASETS
from dlab.errors import ConfigError
from dlab.framework import registry
from dlab.framework.catalogue import experiment_of


def _shrink_validation_count(data: dict[str, Any], origins: dict[str, str]) -> None:
    """Under --smoke, a validation count meant for the real data (the first 10,000 reviews)
    would swallow the few smoke samples: use a quarter of them instead."""
    section = data.get("data") or {}
    count, samples = section.get("validation"), section.get("train_samples")
    if isinstance(count, int) and not isinstance(count, bool) and samples and count >= samples:
        section["validation"] = max(1, samples // 4)
        origins["data.validation"] = "--smoke"


def resolve_config(
    ref: str,
    flags: dict[str, Any] | None = None,
    sets: list[str] | None = None,
    smoke: bool = False,
    flag_names: dict[str, str] | None = None,
) -> RunConfig:
    """Resolve a config name or file into a validated :class:`RunConfig`.

    Args:
        ref: a packaged config name (``cnn-cifar10``) or a path to a YAML file.
        flags: named-flag overrides as dotted keys, e.g. ``{"train.epochs": 3}``;
            ``None`` values are ignored (the flag was not given).
        sets: ``--set`` assignments, ``"key.path=value"``.
        smoke: apply the smoke layer (synthetic data, few samples, one epoch).
        flag_names: the flag behind a key of ``flags`` where it is not the key's last part
            (``{"train.jit_compile": "--jit"}``), for the messages about a bad value.

    Returns:
        The validated config, with ``model`` validated by the experiment's own schema.

    Raises:
        ConfigError: for any bad key, value, file or experiment name.
    """

    path = find_config(ref)
    origins: dict[str, str] = {}
    data = load_yaml_chain(path, origins)
    data.setdefault("name", path.stem)
    if "name" not in origins:
        origins["name"] = str(path)

    experiment_name = experiment_of(data)
    if experiment_name is not None and "experiment" not in data:  # a model function of the user's
        data["experiment"] = experiment_name
        origins["experiment"] = "model.build"
    if not isinstance(experiment_name, str) or not experiment_name:
        raise ConfigError(
            f"{path} does not say which experiment runs it: add "
            f"`experiment: NAME` (one of {', '.join(registry.names())})."
        )
    experiment = registry.get(experiment_name)

    section = data.get("data")
    if isinstance(section, dict) and section.get("dataset") in OWN_FILE_DATASETS:
        section.setdefault("source", "file")  # your own file: there is nothing to download
    layers: list[tuple[str, dict[str, Any]]] = []
    if smoke:
        layers.append(("--smoke", smoke_layer(experiment, data)))
    if flags:
        for key, value in flags.items():
            if value is not None:
                flag = (flag_names or {}).get(key) or f"--{key.split('.')[-1].replace('_', '-')}"
                layers.append((flag, {key: value}))
    for assignment in sets or []:
        key, value = parse_set(assignment)
        layers.append(("--set", {key: value}))
    for origin, overrides in layers:
        for key, value in overrides.items():
            set_dotted(data, key, value)
            origins[key] = origin

    if smoke:
        _shrink_validation_count(data, origins)
    model_section = data.pop("model", {})
    config = validate_section(RunConfig, data, (), origins)
    model = validate_section(experiment.ModelConfig, model_section, ("model",), origins)
    return config.model_copy(update={"model": model}).with_source(str(path), origins)


def smoke_layer(experiment: Any, data: dict[str, Any]) -> dict[str, Any]:
    """What ``--smoke`` sets: synthetic data, few samples, one epoch (and the experiment's own);
    a dataset read from the user's own file has no synthetic twin, so that file is kept."""
    layer = {**SMOKE_DEFAULTS, **experiment.smoke_overrides}
    if (data.get("data") or {}).get("dataset") in OWN_FILE_DATASETS:
        layer.pop("data.source", None)
        layer.pop("data.path", None)
    return layer
