"""The search space of a keras-tuner search, and the target configs its trials are.

A tuner config (``experiment: keras_tuner``) names a *target* experiment and the
``model:`` section it starts from; ``search_space`` maps dotted keys of that
target's config (``model.hidden.0``, ``train.optimizer.learning_rate``) to
ranges: ``{type: int|float|choice|boolean, min, max, step, sampling, values,
default}``. Each entry is validated on its own, so a message names the entry and
its problem (an unknown type lists the allowed ones; min > max is refused), and
:func:`trial_config` turns a set of values into an ordinary, validated config of
the target experiment: what each trial builds and what best-config.yaml holds.

Only pydantic is imported here: ``dlab list`` and ``dlab show`` read the schema
without starting TensorFlow.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator

from dlab.config import StrictModel, validate_section
from dlab.errors import ConfigError, did_you_mean
from dlab.framework import registry
from dlab.run.history import maximized

if TYPE_CHECKING:
    from dlab.config import RunConfig

PARAMETER_TYPES = ("int", "float", "choice", "boolean")
TUNABLE_SECTIONS = ("model", "train")

# --------------------------------------------------------------------------- search space


class IntParameter(StrictModel):
    """An integer range: ``{type: int, min: 32, max: 512, step: 32}``."""

    type: Literal["int"] = "int"
    min: int = Field(..., description="Smallest value (inclusive).")
    max: int = Field(..., description="Largest value (inclusive).")
    step: int | None = Field(
        None, ge=1, description="Spacing of the values (a factor under log sampling); null: every integer."
    )
    sampling: Literal["linear", "log", "reverse_log"] = "linear"
    default: int | None = Field(None, description="The value of the first trial (null: min).")


class FloatParameter(StrictModel):
    """A real range: ``{type: float, min: 1.0e-4, max: 1.0e-2, sampling: log}``."""

    type: Literal["float"] = "float"
    min: float = Field(..., description="Smallest value (inclusive).")
    max: float = Field(..., description="Largest value (inclusive).")
    step: float | None = Field(None, gt=0, description="Spacing of the values; null: continuous.")
    sampling: Literal["linear", "log", "reverse_log"] = "linear"
    default: float | None = Field(None, description="The value of the first trial (null: min).")


class ChoiceParameter(StrictModel):
    """One of a list: ``{type: choice, values: [0.01, 0.001, 0.0001]}``."""

    type: Literal["choice"] = "choice"
    values: list[bool | int | float | str] = Field(
        ..., min_length=1, description="The values to choose from."
    )
    default: bool | int | float | str | None = Field(None, description="The first trial's value.")

    @field_validator("values")
    @classmethod
    def _one_type(cls, values: list[Any]) -> list[Any]:
        kinds = {type(value) for value in values}
        if kinds == {int, float}:  # 1 and 0.5: keras-tuner wants one type, numbers are floats
            return [float(value) for value in values]
        if len(kinds) > 1:
            raise ValueError(
                f"all values must have one type (numbers, strings or booleans), got "
                f"{values!r}; quote numbers that are meant as strings"
            )
        if len(set(values)) != len(values):
            raise ValueError(f"values must be distinct, got {values!r}")
        return values


class BooleanParameter(StrictModel):
    """True or False: ``{type: boolean}``."""

    type: Literal["boolean"] = "boolean"
    default: bool = False


Parameter = Annotated[
    IntParameter | FloatParameter | ChoiceParameter | BooleanParameter, Field(discriminator="type")
]


def _check_range(key: str, parameter: Any) -> None:
    """min <= max, a positive range under log sampling, a default inside the range."""
    if not isinstance(parameter, (IntParameter, FloatParameter)):
        if (
            isinstance(parameter, ChoiceParameter)
            and parameter.default is not None
            and parameter.default not in parameter.values
        ):
            raise ValueError(
                f"search_space '{key}': default {parameter.default!r} is not one of "
                f"the values {parameter.values!r}"
            )
        return
    if parameter.min > parameter.max:
        raise ValueError(
            f"search_space '{key}': min {parameter.min} is larger than max {parameter.max}; give min <= max"
        )
    if parameter.sampling != "linear" and parameter.min <= 0:
        raise ValueError(
            f"search_space '{key}': {parameter.sampling} sampling needs min > 0, got min {parameter.min}"
        )
    if parameter.default is not None and not parameter.min <= parameter.default <= parameter.max:
        raise ValueError(
            f"search_space '{key}': default {parameter.default} is outside [{parameter.min}, {parameter.max}]"
        )


class TuneConfig(StrictModel):
    """The ``model:`` section of a tuner config: what is searched, how, and on which model."""

    target: str = Field(
        ...,
        description="The registered experiment whose model is tuned "
        "(e.g. dense_mnist, convnet); every trial is one of its configs.",
    )
    base_model: dict[str, Any] = Field(
        default_factory=dict, description="The target's `model:` section that the search space changes."
    )
    search_space: dict[str, Parameter] = Field(
        ...,
        min_length=1,
        description="Dotted keys of the target config (model.* or train.*; a "
        "list item by its index, model.hidden.0) -> {type: int|float|choice|boolean, ...}.",
    )
    algorithm: Literal["random_search", "hyperband", "bayesian"] = Field(
        "random_search", description="keras-tuner's RandomSearch, Hyperband or BayesianOptimization."
    )
    objective: str = Field(
        "val_loss",
        description="The history metric to optimize (val_loss, "
        "val_accuracy ...); maximized for accuracy-like metrics.",
    )
    max_trials: int = Field(
        10,
        ge=1,
        description="Trials in all (RandomSearch, Bayesian); "
        "raising it and resuming extends a search. Hyperband decides its "
        "own count from train.epochs and hyperband_factor.",
    )
    executions_per_trial: int = Field(
        1, ge=1, description="Models trained per trial; the score is their average."
    )
    hyperband_factor: int = Field(3, ge=2, description="Hyperband: the reduction factor.")
    hyperband_iterations: int = Field(1, ge=1, description="Hyperband: brackets are run this many times.")
    num_initial_points: int | None = Field(
        None,
        ge=1,
        description="Bayesian: random trials "
        "before the Gaussian process (null: keras-tuner's "
        "3 x the number of hyperparameters).",
    )
    max_consecutive_failed_trials: int = Field(
        3, ge=1, description="Stop the search after this many failed trials in a row."
    )
    retrain_epochs: int | None = Field(
        None,
        ge=1,
        description="Retrain the best hyperparameters "
        "from scratch for this many epochs and evaluate that "
        "model on test (null: evaluate the best trial's model).",
    )
    retrain_batch_size: int | None = Field(
        None, ge=1, description="Batch size of the retrain (null: the best trial's)."
    )

    @field_validator("search_space", mode="before")
    @classmethod
    def _parse_space(cls, space: Any) -> Any:
        """Validate each entry by its type, so every message names the entry and its problem."""
        if not isinstance(space, dict):
            return space
        return {str(key): parse_parameter(str(key), parameter) for key, parameter in space.items()}


def parse_parameter(key: str, parameter: Any) -> Any:
    """One search-space entry as its parameter model.

    Raises:
        ValueError: a bad key, an unknown type (the allowed ones are listed), an unknown
            field, a wrong value or min > max; the message starts with the entry's key.
    """
    where = f"search_space '{key}'"
    section = key.split(".")[0]
    if section not in TUNABLE_SECTIONS or "." not in key:
        raise ValueError(
            f"{where}: keys are dotted keys of the target config under model. or "
            "train. (e.g. model.hidden.0, train.optimizer.learning_rate)"
        )
    if key in ("train.epochs", "train.final_epochs"):
        raise ValueError(f"{where}: the epochs are the tuner's budget (train.epochs), not a hyperparameter")
    kind = parameter.get("type") if isinstance(parameter, dict) else None
    if kind not in PARAMETER_TYPES:
        raise ValueError(
            f"{where}: unknown type {kind!r}; allowed types: "
            f"{', '.join(PARAMETER_TYPES)} (e.g. {{type: int, min: 32, max: 512, "
            "step: 32})"
        )
    schema = PARAMETER_MODELS[kind]
    try:
        parsed = schema.model_validate(parameter)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"])
            if item["type"] == "extra_forbidden":
                allowed = list(schema.model_fields)
                hint = did_you_mean(field, allowed).strip()
                problems.append(
                    f"unknown field '{field}' for type {kind}"
                    + (f" ({hint[0].lower()}{hint[1:]})" if hint else "")
                    + f"; allowed: {', '.join(allowed)}"
                )
            elif item["type"] == "missing":
                problems.append(f"missing '{field}'")
            elif item["type"] == "value_error":
                problems.append(f"'{field}': {item['msg'].removeprefix('Value error, ')}")
            else:
                problems.append(f"'{field}': {item['msg']} (got {item.get('input')!r})")
        raise ValueError(f"{where}: {'; '.join(problems).rstrip('.')}") from None
    _check_range(key, parsed)
    return parsed


PARAMETER_MODELS: dict[str, type[StrictModel]] = {
    "int": IntParameter,
    "float": FloatParameter,
    "choice": ChoiceParameter,
    "boolean": BooleanParameter,
}


# --------------------------------------------------------------------------- trial configs


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key in nested mappings and lists (``model.hidden.0`` is hidden[0]).

    Raises:
        ConfigError: a part of the key that does not exist in the target config.
    """
    *parents, leaf = key.split(".")
    node: Any = data
    for depth, part in enumerate([*parents, leaf]):
        last = depth == len(parents)
        where = ".".join(key.split(".")[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"search_space '{key}': '{where}' indexes a list of {len(node)} "
                    f"items ({node!r}); use an index from 0 to {len(node) - 1}, and "
                    "give base_model a list long enough."
                )
            index = int(part)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
                if node is None:
                    raise ConfigError(
                        f"search_space '{key}': '{where}' is null in the config; "
                        "set it to a section before searching inside it."
                    )
        else:
            raise ConfigError(
                f"search_space '{key}': '{where}' is a value ({node!r}), not a section or a list."
            )


def target_dict(config: RunConfig) -> dict[str, Any]:
    """The target experiment's config (before any hyperparameter) as plain YAML types."""
    data = config.to_dict()
    settings: TuneConfig = config.model
    return {
        "name": f"{config.name}-best",
        "experiment": settings.target,
        "description": f"The best trial of the {config.name} search.",
        "seed": data["seed"],
        "data": data["data"],
        "model": copy.deepcopy(settings.base_model),
        "train": data["train"],
        "reference": {},
    }


def trial_config(config: RunConfig, values: dict[str, Any], **updates: Any) -> RunConfig:
    """The target config of one trial: the base with ``values`` (dotted key -> value) applied.

    Args:
        updates: extra dotted-key settings applied after the values (the retrain's epochs).

    Raises:
        ConfigError: a key that is not in the target config, or a value it refuses.
    """
    origins = {f"model.{key}": "model.base_model" for key in config.model.base_model}
    base = _validate_target(target_dict(config), origins)  # fills in the target's defaults
    data = base.to_dict()
    for key, value in {**values, **updates}.items():
        set_path(data, key, value)
    for key in values:  # a bad key's message says which search-space entry it came from
        parts = key.split(".")
        for end in range(1, len(parts) + 1):
            origins[".".join(parts[:end])] = f"search_space '{key}'"
    origins |= {key: "retrain" for key in updates}
    return _validate_target(data, origins)


def _validate_target(data: dict[str, Any], origins: dict[str, str]) -> RunConfig:
    from dlab.config import RunConfig as RunConfigModel  # lazy: keeps dlab list light (the schema)

    data = dict(data)
    model_section = data.pop("model")
    try:
        experiment = registry.get(data["experiment"])
    except ConfigError as error:
        raise ConfigError(f"model.target: {error}") from None
    validated = validate_section(RunConfigModel, data, (), origins)
    model = validate_section(experiment.ModelConfig, model_section, ("model",), origins)
    return validated.model_copy(update={"model": model})


def default_values(settings: TuneConfig) -> dict[str, Any]:
    """Each hyperparameter's first-trial value, as keras-tuner picks it."""
    values = {}
    for key, parameter in settings.search_space.items():
        if isinstance(parameter, (IntParameter, FloatParameter)):
            values[key] = parameter.default if parameter.default is not None else parameter.min
        elif isinstance(parameter, ChoiceParameter):
            values[key] = parameter.default if parameter.default is not None else parameter.values[0]
        else:
            values[key] = parameter.default
    return values


def extreme_values(settings: TuneConfig) -> list[dict[str, Any]]:
    """Value sets that touch every end of every range and every choice, for the checks
    before the search (a value the target refuses fails here, not in trial 7)."""
    sets = [default_values(settings)]
    for key, parameter in settings.search_space.items():
        if isinstance(parameter, (IntParameter, FloatParameter)):
            candidates = [parameter.min, parameter.max]
        elif isinstance(parameter, ChoiceParameter):
            candidates = list(parameter.values)
        else:
            candidates = [False, True]
        sets.extend({**sets[0], key: value} for value in candidates)
    return sets


def objective_direction(objective: str) -> str:
    return "max" if maximized(objective) else "min"
