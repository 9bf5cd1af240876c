"""Typed run configs: YAML loading, ``extends``, strict overrides and validation.

A run's config is resolved in one fixed order, each layer overriding the last:

    defaults (the pydantic models below)
      -> YAML (the ``extends`` chain, base first)
      -> ``--smoke`` (synthetic data, few samples, one epoch)
      -> named flags (``--epochs``, ``--batch-size``, ``--seed``)
      -> ``--set key.path=value`` (repeatable, value parsed as YAML)

Every key is checked against the models: an unknown key, a wrong type or an
out-of-range value raises :class:`~dlab.errors.ConfigError` naming the key,
where it came from, what is allowed and the closest match. Nothing here
imports TensorFlow or Keras, so ``dlab show`` stays fast.

Example:
    >>> cfg = resolve_config("cnn-cifar10", sets=["train.epochs=2"])
    >>> cfg.train.epochs
    2
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from dlab.errors import ConfigError, did_you_mean

# --------------------------------------------------------------------------- models


class StrictModel(BaseModel):
    """A config section: every field has a default, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class EmptyModelConfig(StrictModel):
    """The ``model`` section of an experiment that has nothing to configure."""


OptimizerName = Literal[
    "adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "ftrl", "lion"
]
LossName = Literal[
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
    "half_squared_error",
]
DataSource = Literal["keras", "builtin", "file", "dir", "synthetic"]


class DataConfig(StrictModel):
    """Where the data comes from and how it is split."""

    dataset: str = Field("", description="Dataset name, e.g. cifar10.")
    source: DataSource = Field(
        "keras",
        description="keras: download through keras.datasets and cache; builtin: data that "
        "ships with the code (truth tables, scikit-learn's bundled sets, generated problems); "
        "file: a local file "
        "(.npz with x_train/y_train/x_test/y_test); dir: a class-folder tree with train/ and "
        "test/; synthetic: a deterministic twin with the real shapes and a learnable signal.",
    )
    path: str | None = Field(None, description="File or folder for the file/dir sources.")
    validation: Literal["test", "none", "split"] | int | float = Field(
        "test",
        description="Validation data during fit: 'test' (the test split, as the lab reports "
        "did), a fraction of the training data (0 < f < 1, the last part, like Keras's "
        "validation_split), a count N (the first N training samples), 'split' (the dataset's "
        "own validation split: jena's next 25% of the series, the validation/ folder of a "
        "class-folder tree), or 'none' (NumPy "
        "experiments only; Keras runs always validate).",
    )
    train_samples: int | None = Field(
        None, ge=1, description="Use only the first N training samples (the size of a "
        "synthetic dataset); null keeps them all."
    )
    test_samples: int | None = Field(
        None, ge=1, description="Use only the first N test samples; null keeps them all."
    )
    samples: int | None = Field(
        None, ge=2, description="How many points a generated dataset has in all (playground, "
        "regression); null: the dataset's default."
    )
    test_split: float = Field(
        0.2, gt=0, lt=1, description="Fraction held out as the test split by datasets without "
        "one of their own (CSV files, generated data)."
    )
    noise: float = Field(0.0, ge=0, description="Noise level of generated datasets.")
    target: str | None = Field(None, description="Target column of a CSV file (source: file).")
    num_words: int | None = Field(None, ge=1, description="Text: keep the N most frequent words "
                                  "(others become out-of-vocabulary); null: the whole vocabulary.")
    maxlen: int | None = Field(None, ge=1, description="Text: pad or truncate every document to "
                               "this many words, keeping the last ones (sequence models).")

    image_size: PositiveInt | tuple[PositiveInt, PositiveInt] | None = Field(
        None, description="Segmentation: resize images (bilinear) and masks (nearest "
        "neighbour) to this height and width (one number: square); null: the dataset's own "
        "(200 for oxford_pets).")
    mask_offset: int | None = Field(
        None, description="Segmentation: added to every mask value to get its class (Oxford "
        "pets trimaps 1..3: -1); null: -1 for annotations/trimaps/, 0 for a masks/ folder.")
    num_classes: int | None = Field(
        None, ge=2, description="Segmentation: number of mask classes (values after the offset "
        "must be 0..num_classes-1); null: 3 for the pets, the largest value + 1 for masks/.")

    cache: str = Field(
        "memory", description="Class-folder trees (tf.data streams): keep the decoded, resized "
        "images after the first epoch: 'memory', 'none' (decode every epoch: trees larger than "
        "RAM), or a file path prefix (tf.data's cache on disk).")

    @field_validator("validation")
    @classmethod
    def _check_validation(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("expected 'test', 'split', 'none', a fraction between 0 and 1, "
                             "or a count")
        if isinstance(value, float) and not 0.0 < value < 1.0:
            raise ValueError(f"a fraction must be between 0 and 1 (exclusive), got {value}")
        if isinstance(value, int) and value < 1:
            raise ValueError(f"a sample count must be at least 1, got {value}")
        return value


class ScheduleConfig(StrictModel):
    """A learning-rate schedule (keras.optimizers.schedules), in epochs rather than steps."""

    name: Literal["inverse_time_decay"] = Field("inverse_time_decay", description="Schedule.")
    decay_epochs: float = Field(1000, gt=0, description="decay_steps = this * steps per epoch.")
    decay_rate: float = Field(1.0, gt=0, description="lr / (1 + decay_rate * step / decay_steps).")
    staircase: bool = False


class OptimizerConfig(StrictModel):
    """A Keras optimizer by name, with the settings the experiments use."""

    name: OptimizerName = Field("adam", description="Keras optimizer name.")
    learning_rate: float = Field(0.001, gt=0, description="(Initial) learning rate.")
    schedule: ScheduleConfig | None = Field(None, description="Decay the learning rate.")
    momentum: float | None = Field(None, ge=0, description="Momentum (sgd, rmsprop).")
    clipnorm: float | None = Field(None, gt=0, description="Clip each gradient to this norm.")
    global_clipnorm: float | None = Field(
        None, gt=0, description="Clip all gradients together to this global norm (d2l's "
        "grad_clipping: one norm over every parameter).")


class EarlyStoppingConfig(StrictModel):
    """keras.callbacks.EarlyStopping settings."""

    monitor: str = "val_loss"
    patience: int = Field(5, ge=0)
    min_delta: float = Field(0.0, ge=0)
    restore_best_weights: bool = True


class CheckpointConfig(StrictModel):
    """keras.callbacks.ModelCheckpoint on the best epoch; the best model is evaluated."""

    monitor: str = "val_loss"


class TrainConfig(StrictModel):
    """compile() and fit() settings."""

    epochs: int = Field(10, ge=1, description="Training epochs.")
    batch_size: int | None = Field(32, ge=1, description="Samples per gradient step; null: the "
                                   "whole training set (full-batch gradient descent).")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    loss: LossName = Field("sparse_categorical_crossentropy", description="Keras loss name.")
    from_logits: bool = Field(False, description="The model outputs logits, not probabilities.")
    metrics: list[str] = Field(default_factory=lambda: ["accuracy"])
    early_stopping: EarlyStoppingConfig | None = None
    checkpoint: CheckpointConfig | None = None
    shuffle: bool = True
    kfold: int | None = Field(None, ge=2, description="K-fold cross-validation on the training "
                              "data, then a final model on all of it (null: one fit).")
    final_epochs: int | None = Field(None, ge=1, description="Epochs of the final model after "
                                     "k-fold (null: train.epochs).")
    steps_per_execution: int = Field(
        1, ge=1, description="Batches per compiled call (Keras compile(steps_per_execution=...)); "
        "raise it for tiny models, where per-step overhead dominates.")
    max_wall_time: float | None = Field(
        None, gt=0, description="Wall-time budget of the run in seconds (or 90s, 30m, 2h): the "
        "epoch that crosses it is the last (status completed, stopped_early: time_limit).")

    @field_validator("max_wall_time", mode="before")
    @classmethod
    def _parse_wall_time(cls, value: Any) -> Any:
        from dlab.lifecycle import parse_duration

        return parse_duration(value)


class ReferenceValue(StrictModel):
    """A result this config is known to reach on the real data, with its provenance."""

    value: float
    source: str = ""


class RunConfig(StrictModel):
    """One runnable config: the common sections plus the experiment's own ``model``."""

    name: str = Field("", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Config name; "
                      "names the outputs folder (letters, digits, '.', '_', '-').")
    experiment: str = Field(..., description="Registered experiment that runs this config.")
    description: str = ""
    seed: int = Field(42, ge=0, lt=2**32, description="Seeds Python, NumPy and the backend.")
    data: DataConfig = Field(default_factory=DataConfig)
    model: Any = Field(default_factory=dict, description="The experiment's own settings.")
    train: TrainConfig = Field(default_factory=TrainConfig)
    reference: dict[str, ReferenceValue | None] = Field(
        default_factory=dict, description="Known results on the real data; a variant sets an "
        "inherited entry to null to drop it.")

    @field_validator("reference")
    @classmethod
    def _drop_null_references(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {key: item for key, item in value.items() if item is not None}

    def to_dict(self) -> dict[str, Any]:
        """The config as plain YAML/JSON types, in field order."""
        data = self.model_dump(mode="json")
        if isinstance(self.model, BaseModel):
            data["model"] = self.model.model_dump(mode="json")
        return data

    def to_yaml(self) -> str:
        """The resolved config as YAML that ``dlab run FILE`` accepts back."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    def config_hash(self) -> str:
        """A short hash of everything that changes results (not name, description, reference)."""
        data = self.to_dict()
        for key in ("name", "description", "reference"):
            data.pop(key, None)
        data["train"].pop("max_wall_time", None)  # a budget, not a setting of the model
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- finding configs

SMOKE_DEFAULTS: dict[str, Any] = {
    "data.source": "synthetic",
    "data.path": None,
    "data.train_samples": 512,
    "data.test_samples": 128,
    "train.epochs": 1,
    "train.final_epochs": None,  # k-fold's final model: as many epochs as the folds
}
"""What ``--smoke`` sets (an experiment may add to it): synthetic data, few samples, one epoch."""

# libyaml's safe loader parses the packaged configs ~7x faster than the pure-Python one
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_SET_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def packaged_configs_dir() -> Path:
    """The folder of YAML configs shipped inside the package (``dlab.configs``)."""
    return Path(str(resources.files("dlab.configs")))


def config_names() -> list[str]:
    """Names of every packaged runnable config, sorted."""
    return sorted(p.stem for p in packaged_configs_dir().glob("*.yaml"))


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
        raise ConfigError(f"Config file not found: {ref}. Give an existing .yaml file or the "
                          "name of a packaged config (see `dlab list`).")
    path = packaged_configs_dir() / f"{ref}.yaml"
    if path.is_file():
        return path
    names = config_names()
    raise ConfigError(
        f"Unknown experiment or config '{ref}'.{did_you_mean(ref, names)} "
        f"Available: {', '.join(names)}. Run `dlab list` to see them with descriptions."
    )


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one YAML config file into a dict.

    Raises:
        ConfigError: a syntax error (with file, line and column) or a top level that is
            not a mapping.
    """
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.constructor.ConstructorError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: {error.problem}. dlab reads YAML with the safe loader "
                          "only: tags such as !!python/object that build Python objects or run "
                          "code are refused. Write plain values (numbers, strings, lists, "
                          "mappings).") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"YAML syntax error in {path}{where}: {problem}. Fix the file and "
                          "run again.") from error
    except OSError as error:
        raise ConfigError(f"Cannot read config file {path}: {error.strerror}.") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of keys (experiment:, data:, train: ...), "
                          f"not a {type(data).__name__}.")
    return data


def _flatten_keys(data: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        keys.append(dotted)
        if isinstance(value, dict):
            keys.extend(_flatten_keys(value, dotted + "."))
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


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into a copy of ``base``: mappings merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


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
            raise ConfigError(f"`extends` in {path} must be a config name or a path, "
                              f"got {parent_ref!r}.")
        parent_path = path.parent / parent_ref
        if not (parent_ref.endswith((".yaml", ".yml")) and parent_path.is_file()):
            parent_path = find_config(parent_ref)
        merged = load_yaml_chain(parent_path, origins, (*_seen, resolved))
        merged.pop("name", None)
    for key in _flatten_keys(data):
        origins[key] = str(path)
    return deep_merge(merged, data)


# --------------------------------------------------------------------------- overrides


def parse_set(assignment: str) -> tuple[str, Any]:
    """Split ``--set key.path=value`` and parse the value as YAML.

    Raises:
        ConfigError: no ``=``, or a key that is not a dotted name.
    """
    if "=" not in assignment:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. --set train.batch_size=64), "
                          f"got '{assignment}': there is no '='.")
    key, _, text = assignment.partition("=")
    key = key.strip()
    if not _SET_KEY.match(key):
        raise ConfigError(f"--set '{assignment}': '{key}' is not a dotted key such as "
                          "train.optimizer.learning_rate.")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(f"--set '{assignment}': the value is not valid YAML ({error}).") from error
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
            raise ConfigError(f"Cannot set '{key}': '{where}' is a value ({child!r}), not a "
                              "section with keys.")
        node = child
    node[leaf] = value


# --------------------------------------------------------------------------- validation


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside an annotation such as ``X | None``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _section_model(arg)
            if found is not None:
                return found
    return None


def _model_at(root: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in path:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        model = _section_model(model.model_fields[part].annotation)
    return model


def _origin_of(key: str, origins: dict[str, str]) -> str:
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:end]))
        if found:
            return found
    return "defaults"


def _real_keys(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """Drop what pydantic adds to an error location: list indexes and union member tags."""
    return tuple(p for p in loc if isinstance(p, str)
                 and "[" not in p and p not in {"int", "float", "str", "bool"})


def _explain(key_loc: tuple[str, ...], errors: list[dict[str, Any]], root: type[BaseModel],
             prefix: tuple[str, ...], origins: dict[str, str]) -> str:
    full = ".".join((*prefix, *key_loc))
    origin = _origin_of(full, origins)
    first = errors[0]
    if first["type"] == "extra_forbidden":
        parent = _model_at(root, key_loc[:-1])
        allowed = sorted(parent.model_fields) if parent else []
        section = ".".join((*prefix, *key_loc[:-1])) or "the top level"
        hint = did_you_mean(key_loc[-1], allowed)
        return (f"Unknown key '{full}' (from {origin}). Allowed keys under '{section}': "
                f"{', '.join(allowed) or '(none)'}.{hint}")
    if first["type"] == "missing":
        return f"Missing required key '{full}' (from {origin}). Add it to the config."
    messages = []
    for error in errors:
        message = error["msg"].removeprefix("Value error, ")
        if message not in messages:
            messages.append(message)
    return (f"Invalid value for '{full}' (from {origin}): {first.get('input')!r}. "
            f"{' or '.join(messages)}.")


def validate_section(schema: type[BaseModel], data: Any, prefix: tuple[str, ...],
                     origins: dict[str, str]) -> BaseModel:
    """Validate ``data`` against ``schema``; every problem becomes one ConfigError line."""
    try:
        return schema.model_validate(data if data is not None else {})
    except ValidationError as error:
        by_key: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for item in error.errors():
            by_key.setdefault(_real_keys(item["loc"]), []).append(item)
        lines = [_explain(key, items, schema, prefix, origins) for key, items in by_key.items()]
        raise ConfigError("\n".join(lines)) from None


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
) -> RunConfig:
    """Resolve a config name or file into a validated :class:`RunConfig`.

    Args:
        ref: a packaged config name (``cnn-cifar10``) or a path to a YAML file.
        flags: named-flag overrides as dotted keys, e.g. ``{"train.epochs": 3}``;
            ``None`` values are ignored (the flag was not given).
        sets: ``--set`` assignments, ``"key.path=value"``.
        smoke: apply the smoke layer (synthetic data, few samples, one epoch).

    Returns:
        The validated config, with ``model`` validated by the experiment's own schema.

    Raises:
        ConfigError: for any bad key, value, file or experiment name.
    """
    from dlab import registry  # light: experiment modules import Keras lazily

    path = find_config(ref)
    origins: dict[str, str] = {}
    data = load_yaml_chain(path, origins)
    data.setdefault("name", path.stem)
    if "name" not in origins:
        origins["name"] = str(path)

    experiment_name = data.get("experiment")
    if not isinstance(experiment_name, str) or not experiment_name:
        raise ConfigError(f"{path} does not say which experiment runs it: add "
                          f"`experiment: NAME` (one of {', '.join(registry.names())}).")
    experiment = registry.get(experiment_name)

    layers: list[tuple[str, dict[str, Any]]] = []
    if smoke:
        layers.append(("--smoke", {**SMOKE_DEFAULTS, **experiment.smoke_overrides}))
    if flags:
        for key, value in flags.items():
            if value is not None:
                layers.append((f"--{key.split('.')[-1].replace('_', '-')}", {key: value}))
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
    return config.model_copy(update={"model": model})
