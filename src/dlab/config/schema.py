"""The config schema: one typed model per section, a default and a description for every field.

Unknown keys are errors (:class:`StrictModel`); every experiment adds its own
``model`` section schema (``Experiment.ModelConfig``). Nothing here imports
TensorFlow or Keras, so ``dlab show`` stays fast.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from dlab.config.data_sources import DataSource
from dlab.config.references import ReferenceValue
from dlab.config.strict import StrictModel
from dlab.errors import did_you_mean

# --------------------------------------------------------------------------- models

LOSS_NAMES = (
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
    "half_squared_error",
)
"""The losses dlab's experiments use (``half_squared_error`` is dlab's own); any Keras loss works too."""
BackendName = Literal["auto", "tensorflow", "jax", "torch"]


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
        "did), a fraction of the training data (0 < f < 1: a random subset drawn with the "
        "seed, stratified by class; the last part for data kept in order, such as a text), a "
        "count N (the first N training samples; refused for data kept in order), 'split' (the "
        "dataset's own validation split: jena's next 25% of the series, the validation/ folder "
        "of a class-folder tree), or 'none' (NumPy "
        "experiments only; Keras runs always validate).",
    )
    allow_degenerate_split: bool = Field(
        False,
        description="Train even when a split holds a single class or lacks a class the "
        "other splits have (the split check before training stops the run otherwise).",
    )
    train_samples: int | None = Field(
        None,
        ge=1,
        description="Use only the first N training samples (the size of a "
        "synthetic dataset); null keeps them all.",
    )
    test_samples: int | None = Field(
        None, ge=1, description="Use only the first N test samples; null keeps them all."
    )
    samples: int | None = Field(
        None,
        ge=2,
        description="How many points a generated dataset has in all (playground, "
        "regression); null: the dataset's default.",
    )
    test_split: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Fraction held out as the test split by datasets without "
        "one of their own (CSV files, generated data).",
    )
    noise: float = Field(0.0, ge=0, description="Noise level of generated datasets.")
    target: str | None = Field(
        None, description="The column to predict, in a CSV file (the csv dataset, and source: file)."
    )
    features: list[str] | None = Field(
        None,
        description="Your own table (dataset: csv): the columns the model reads; null: every "
        "column but the target.",
    )
    task: Literal["classification", "regression"] | None = Field(
        None,
        description="Your own table or .npz: what the target is; null: classification for text, "
        "booleans and at most 20 distinct integers (a table: whole numbers), regression otherwise.",
    )
    categorical: Literal["onehot", "refuse"] = Field(
        "onehot",
        description="Your own table: text columns become one-hot columns (COLUMN=VALUE), or are "
        "refused with their names.",
    )
    num_words: int | None = Field(
        None,
        ge=1,
        description="Text: keep the N most frequent words "
        "(others become out-of-vocabulary); null: the whole vocabulary (text_folder: of the "
        "training documents only; N counts ids 0 and 1, padding and unknown words).",
    )
    maxlen: int | None = Field(
        None,
        ge=1,
        description="Text: pad or truncate every document to "
        "this many words, keeping the last ones (sequence models); text_folder: 200 when null.",
    )

    image_size: PositiveInt | tuple[PositiveInt, PositiveInt] | None = Field(
        None,
        description="Segmentation and image_folder: resize images (bilinear; masks nearest "
        "neighbour) to this height and width (one number: square); null: the dataset's own "
        "(200 for oxford_pets, 64 for image_folder).",
    )
    mask_offset: int | None = Field(
        None,
        description="Segmentation: added to every mask value to get its class (Oxford "
        "pets trimaps 1..3: -1); null: -1 for annotations/trimaps/, 0 for a masks/ folder.",
    )
    num_classes: int | None = Field(
        None,
        ge=2,
        description="Segmentation: number of mask classes (values after the offset "
        "must be 0..num_classes-1); null: 3 for the pets, the largest value + 1 for masks/.",
    )

    cache: str = Field(
        "memory",
        description="Class-folder trees (tf.data streams): keep the decoded, resized "
        "images after the first epoch: 'memory', 'none' (decode every epoch: trees larger than "
        "RAM), or a file path prefix (tf.data's cache on disk).",
    )

    @model_serializer(mode="wrap")
    def _leave_out_unset_options(self, handler: Any) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for key, default in OPTIONAL_DATA_KEYS.items():
                if key in data and data[key] == default:
                    del data[key]
        return data

    @field_validator("validation")
    @classmethod
    def _check_validation(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("expected 'test', 'split', 'none', a fraction between 0 and 1, or a count")
        if isinstance(value, float) and not 0.0 < value < 1.0:
            raise ValueError(f"a fraction must be between 0 and 1 (exclusive), got {value}")
        if isinstance(value, int) and value < 1:
            raise ValueError(f"a sample count must be at least 1, got {value}")
        return value


# ----------------------------------------------------------------- Keras names, without importing Keras


@functools.cache
def keras_exports(package: str) -> frozenset[str] | None:
    """The public names of ``keras.<package>`` (``optimizers``, ``losses``), read from the installed
    package's ``__init__.py`` without importing Keras: importing it would fix the backend before a
    run chooses one, and would make ``dlab show`` slow. None where that file cannot be read (another
    Keras layout): the names are then checked when the run starts
    (:func:`dlab.training.options.check_train_options`), against Keras itself.
    """
    import ast
    import importlib.util

    try:
        spec = importlib.util.find_spec("keras")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for parts in (package.split("."), ["api", *package.split(".")]):
            try:
                tree = ast.parse(Path(folder, *parts, "__init__.py").read_text(encoding="utf-8"))
            except (OSError, SyntaxError, ValueError):
                continue
            names: set[str] = set()
            for node in tree.body:
                if isinstance(node, ast.ImportFrom):
                    names.update(alias.asname or alias.name for alias in node.names)
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names.add(node.name)
            return frozenset(name for name in names if not name.startswith("_"))
    return None


NOT_OPTIMIZERS = frozenset({"optimizer", "lossscaleoptimizer", "multioptimizer", "optimizermap"})
"""keras.optimizers classes that are no optimizer of their own (a base, wrappers of others)."""

LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "bce": "binary_crossentropy",
    "kld": "kl_divergence",
}
"""The short names ``keras.losses.get`` accepts."""

DLAB_LOSSES = ("half_squared_error",)
"""Losses of dlab's own (:mod:`dlab.training.losses`)."""


def optimizer_names() -> list[str] | None:
    """The Keras optimizers by name (``adam``, ``adamw``, ``sgd`` ...): the lower-cased class names
    of ``keras.optimizers``; None where they cannot be read without importing Keras."""
    names = keras_exports("optimizers")
    if names is None:
        return None
    return sorted({name.lower() for name in names if name[:1].isupper()} - NOT_OPTIMIZERS)


def loss_names() -> list[str] | None:
    """The loss names a config may give: Keras's losses (function names, class names and the
    short aliases of ``keras.losses.get``) and dlab's own; None where Keras's cannot be read."""
    names = keras_exports("losses")
    if names is None:
        return None
    exported = {name for name in names if name not in {"Loss", "get", "serialize", "deserialize"}}
    return sorted(exported | set(LOSS_ALIASES) | set(DLAB_LOSSES))


def is_reference(name: str) -> bool:
    """True for a reference to the user's code, ``module:NAME`` or ``file.py:NAME``."""
    return ":" in name


def check_reference(value: str, example: str) -> str:
    """``value`` if it has the shape ``MODULE:NAME`` (it is imported when the run starts)."""
    module, _, name = value.rpartition(":")
    if not module or not name.isidentifier():
        raise ValueError(
            f"{value!r} is not a reference to Python code: write MODULE:NAME, e.g. "
            f"'{example}' (a file; relative paths are looked up in the project root, then the "
            "working folder) or 'mypkg.module:NAME' (an importable module)"
        )
    return value


def _check_finite(value: Any, where: str) -> None:
    """Arguments given to Keras as they are: numbers must be finite (as in every section)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_finite(item, where)
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")


# --------------------------------------------------------------------------- train: schedules


class ScheduleConfig(StrictModel):
    """keras.optimizers.schedules.InverseTimeDecay, in epochs rather than steps: lr / (1 + rate * t)."""

    name: Literal["inverse_time_decay"] = Field("inverse_time_decay", description="Schedule.")
    decay_epochs: float = Field(1000, gt=0, description="decay_steps = this * steps per epoch.")
    decay_rate: float = Field(1.0, gt=0, description="lr / (1 + decay_rate * step / decay_steps).")
    staircase: bool = Field(False, description="Decay in whole steps of decay_epochs.")


InverseTimeDecayConfig = ScheduleConfig


class ExponentialDecayConfig(StrictModel):
    """keras.optimizers.schedules.ExponentialDecay in epochs: lr * decay_rate ** (epochs / decay_epochs)."""

    name: Literal["exponential_decay"] = Field("exponential_decay", description="Schedule.")
    decay_epochs: float = Field(..., gt=0, description="decay_steps = this * steps per epoch.")
    decay_rate: float = Field(..., gt=0, description="The factor per decay_epochs.")
    staircase: bool = Field(False, description="Decay in whole steps of decay_epochs.")


class PiecewiseConstantConfig(StrictModel):
    """keras.optimizers.schedules.PiecewiseConstantDecay in epochs: a rate per interval.

    ``boundaries: [10, 20], values: [0.01, 0.001, 0.0001]`` trains epochs 1-10 at 0.01, 11-20 at
    0.001 and the rest at 0.0001; ``train.optimizer.learning_rate`` is not used (values[0] is the
    first rate).
    """

    name: Literal["piecewise_constant"] = Field("piecewise_constant", description="Schedule.")
    boundaries: list[float] = Field(
        ...,
        min_length=1,
        description="Epochs after which the rate changes (increasing); converted to steps.",
    )
    values: list[float] = Field(
        ..., min_length=2, description="The rate in each interval: one more than boundaries."
    )

    @model_validator(mode="after")
    def _check_intervals(self) -> PiecewiseConstantConfig:
        if any(b <= 0 for b in self.boundaries) or any(
            later <= earlier for earlier, later in zip(self.boundaries, self.boundaries[1:], strict=False)
        ):
            raise ValueError(f"boundaries must be increasing epochs above 0, got {self.boundaries}")
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(
                f"values needs one rate per interval: {len(self.boundaries) + 1} for "
                f"{len(self.boundaries)} boundaries, got {len(self.values)}"
            )
        if any(value < 0 for value in self.values):
            raise ValueError(f"values are learning rates (>= 0), got {self.values}")
        return self


class PolynomialDecayConfig(StrictModel):
    """keras.optimizers.schedules.PolynomialDecay in epochs: from the learning rate to
    end_learning_rate over decay_epochs, along (1 - t) ** power."""

    name: Literal["polynomial_decay"] = Field("polynomial_decay", description="Schedule.")
    decay_epochs: float = Field(..., gt=0, description="decay_steps = this * steps per epoch.")
    end_learning_rate: float = Field(0.0001, ge=0, description="The rate after decay_epochs.")
    power: float = Field(1.0, gt=0, description="1: linear decay.")
    cycle: bool = Field(False, description="Start again after decay_epochs (with a longer period).")


class CosineDecayConfig(StrictModel):
    """keras.optimizers.schedules.CosineDecay in epochs, with an optional linear warmup.

    Without warmup the rate falls from ``train.optimizer.learning_rate`` along a half cosine to
    ``alpha`` times it over decay_epochs. With ``warmup_target`` it first rises linearly from
    the learning rate to warmup_target over warmup_epochs, then falls from warmup_target.
    """

    name: Literal["cosine_decay"] = Field("cosine_decay", description="Schedule.")
    decay_epochs: float = Field(
        ..., gt=0, description="Epochs of the cosine decay (after any warmup): this * steps per epoch."
    )
    alpha: float = Field(0.0, ge=0, le=1, description="The final rate as a fraction of the decay's start.")
    warmup_target: float | None = Field(
        None, gt=0, description="The rate the warmup reaches (null: no warmup)."
    )
    warmup_epochs: float = Field(
        0, ge=0, description="Epochs of linear warmup before the decay; steps = this * steps per epoch."
    )

    @model_validator(mode="after")
    def _check_warmup(self) -> CosineDecayConfig:
        if self.warmup_epochs > 0 and self.warmup_target is None:
            raise ValueError(
                "warmup_epochs needs warmup_target (the rate the warmup reaches), e.g. "
                "{name: cosine_decay, decay_epochs: 20, warmup_epochs: 2, warmup_target: 0.001}"
            )
        return self


class CosineDecayRestartsConfig(StrictModel):
    """keras.optimizers.schedules.CosineDecayRestarts in epochs (SGDR): cosine decays that restart."""

    name: Literal["cosine_decay_restarts"] = Field("cosine_decay_restarts", description="Schedule.")
    first_decay_epochs: float = Field(
        ..., gt=0, description="Epochs of the first period; first_decay_steps = this * steps per epoch."
    )
    t_mul: float = Field(2.0, gt=0, description="Each period is t_mul times as long as the one before.")
    m_mul: float = Field(1.0, gt=0, description="Each restart starts at m_mul times the previous start.")
    alpha: float = Field(0.0, ge=0, le=1, description="The lowest rate as a fraction of the start.")


SCHEDULES: dict[str, type[StrictModel]] = {
    "inverse_time_decay": ScheduleConfig,
    "exponential_decay": ExponentialDecayConfig,
    "piecewise_constant": PiecewiseConstantConfig,
    "polynomial_decay": PolynomialDecayConfig,
    "cosine_decay": CosineDecayConfig,
    "cosine_decay_restarts": CosineDecayRestartsConfig,
}
"""Every schedule of keras.optimizers.schedules, by ``train.optimizer.schedule.name``."""

Schedule = Annotated[
    ScheduleConfig
    | ExponentialDecayConfig
    | PiecewiseConstantConfig
    | PolynomialDecayConfig
    | CosineDecayConfig
    | CosineDecayRestartsConfig,
    Field(discriminator="name"),
]


# --------------------------------------------------------------------------- train: optimizer


class OptimizerConfig(StrictModel):
    """Any Keras optimizer by name, with any of its constructor arguments.

    The fields below are the settings dlab's own configs use; every other key (``weight_decay``,
    ``nesterov``, ``amsgrad``, ``use_ema``, ``clipvalue``, ``beta_1`` ...) goes to the optimizer's
    constructor as given. Those keys are checked against the class's real signature when the run
    starts, before anything trains (:func:`dlab.training.options.check_train_options`): an
    argument it does not take is refused with the closest names.
    """

    model_config = ConfigDict(extra="allow", validate_default=True, allow_inf_nan=False)

    name: str = Field(
        "adam",
        description="Keras optimizer name: the lower-cased class name in keras.optimizers (adam, "
        "adamw, sgd, rmsprop, adagrad, adadelta, adamax, nadam, ftrl, lion, lamb, adafactor ...).",
    )
    learning_rate: float = Field(0.001, gt=0, description="(Initial) learning rate.")
    schedule: Schedule | None = Field(
        None,
        description="Change the learning rate as training goes, in epochs: inverse_time_decay, "
        "exponential_decay, piecewise_constant, polynomial_decay, cosine_decay (with "
        "warmup_target / warmup_epochs) or cosine_decay_restarts (keras.optimizers.schedules).",
    )
    momentum: float | None = Field(None, ge=0, description="Momentum (sgd, rmsprop).")
    clipnorm: float | None = Field(None, gt=0, description="Clip each gradient to this norm.")
    global_clipnorm: float | None = Field(
        None,
        gt=0,
        description="Clip all gradients together to this global norm (d2l's "
        "grad_clipping: one norm over every parameter).",
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        names = optimizer_names()
        if names is not None and value not in names:
            raise ValueError(
                f"unknown optimizer '{value}'; Keras has {', '.join(names)}.{did_you_mean(value, names)}"
            )
        return value

    @field_validator("schedule", mode="before")
    @classmethod
    def _check_schedule_name(cls, value: Any) -> Any:
        if isinstance(value, dict):
            name = value.get("name", "inverse_time_decay")  # the one schedule dlab had before
            if name not in SCHEDULES:
                raise ValueError(
                    f"unknown schedule {name!r}; allowed: {', '.join(SCHEDULES)}."
                    f"{did_you_mean(str(name), SCHEDULES)}"
                )
            value = {"name": name, **value}
        return value

    @model_validator(mode="after")
    def _check_arguments(self) -> OptimizerConfig:
        for key, value in (self.model_extra or {}).items():
            if not key.isidentifier():
                raise ValueError(f"{key!r} cannot be an argument of an optimizer")
            _check_finite(value, key)
        return self

    @property
    def arguments(self) -> dict[str, Any]:
        """The constructor arguments beyond the fields (``weight_decay``, ``nesterov`` ...)."""
        return dict(self.model_extra or {})


# --------------------------------------------------------------------------- train: losses, metrics


class NamedObject(BaseModel):
    """A Keras object by name with its constructor arguments: ``{name: auc, curve: PR}``.

    Every key but ``name`` is an argument, checked against the real signature when the run
    starts. It compares equal to its name (``train.loss == "categorical_crossentropy"`` holds for
    ``{name: categorical_crossentropy, label_smoothing: 0.1}``), so code that asks which loss a
    run uses reads both forms alike.
    """

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    name: str = Field(..., description="A Keras name, or your own as 'module:NAME' / 'file.py:NAME'.")

    @model_validator(mode="after")
    def _check_arguments(self) -> NamedObject:
        for key, value in (self.model_extra or {}).items():
            if not key.isidentifier():
                raise ValueError(f"{key!r} cannot be an argument of {self.name}")
            _check_finite(value, key)
        return self

    @property
    def arguments(self) -> dict[str, Any]:
        """The constructor arguments (every key but ``name``)."""
        return dict(self.model_extra or {})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.name == other
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, as every pydantic model

    def __str__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.arguments.items())
        return f"{self.name}({arguments})"


class LossSpec(NamedObject):
    """``train.loss`` with arguments: ``{name: categorical_crossentropy, label_smoothing: 0.1}``."""


class MetricSpec(NamedObject):
    """A ``train.metrics`` entry with arguments: ``{name: auc, curve: PR}``."""


def _check_loss(value: Any) -> Any:
    """``train.loss``: a known name or a reference as a string, or a mapping with ``name``."""
    if isinstance(value, LossSpec):
        return value
    if isinstance(value, dict):
        if not isinstance(value.get("name"), str):
            raise ValueError(
                "a loss with arguments needs its name: {name: categorical_crossentropy, label_smoothing: 0.1}"
            )
        if "from_logits" in value:
            raise ValueError(
                "from_logits is set for every loss by train.from_logits: move it there "
                "(train.from_logits: true)"
            )
        _check_loss_name(value["name"])
        return LossSpec.model_validate(value)
    if isinstance(value, str):
        return _check_loss_name(value)
    raise ValueError(
        "expected a loss name (categorical_focal_crossentropy), a loss with arguments "
        "({name: categorical_crossentropy, label_smoothing: 0.1}) or your own ('losses.py:my_loss')"
    )


def _check_loss_name(name: str) -> str:
    if is_reference(name):
        return check_reference(name, "losses.py:my_loss")
    names = loss_names()
    if names is None or name in names:
        return name
    shown = sorted(n for n in names if not n[:1].isupper() and n not in LOSS_ALIASES)
    raise ValueError(
        f"unknown loss '{name}'. Use a Keras loss ({', '.join(shown)}; class names such as "
        "CategoricalFocalCrossentropy work too) or your own as 'losses.py:my_loss' or "
        f"'mypkg.losses:my_loss'.{did_you_mean(name, names)}"
    )


def _check_metric(value: Any) -> Any:
    """A ``train.metrics`` entry: a name (checked with the data, see build_metrics) or a mapping."""
    if isinstance(value, (str, MetricSpec)):
        if isinstance(value, str) and is_reference(value):
            check_reference(value, "metrics.py:my_metric")
        return value
    if isinstance(value, dict):
        if not isinstance(value.get("name"), str):
            raise ValueError("a metric with arguments needs its name: {name: auc, curve: PR}")
        if is_reference(value["name"]):
            check_reference(value["name"], "metrics.py:MyMetric")
        return MetricSpec.model_validate(value)
    raise ValueError(
        "expected a metric name (accuracy), a metric with arguments ({name: auc, curve: PR}) or "
        "your own ('metrics.py:my_metric')"
    )


# --------------------------------------------------------------------------- train: callbacks


class ReduceLROnPlateauConfig(StrictModel):
    """keras.callbacks.ReduceLROnPlateau: multiply the learning rate by ``factor`` when ``monitor``
    has not improved for ``patience`` epochs (not with a schedule: one of the two sets the rate)."""

    monitor: str = Field("val_loss", description="The history key watched (val_loss, val_accuracy ...).")
    factor: float = Field(0.1, gt=0, lt=1, description="new rate = rate * factor.")
    patience: int = Field(10, ge=0, description="Epochs without improvement before the rate drops.")
    mode: Literal["auto", "min", "max"] = Field(
        "auto", description="min: lower is better; max: higher; auto: from the name (acc -> max)."
    )
    min_delta: float = Field(1e-4, ge=0, description="The smallest change that counts as improvement.")
    cooldown: int = Field(0, ge=0, description="Epochs to wait after a reduction before watching again.")
    min_lr: float = Field(0.0, ge=0, description="The rate never drops below this.")


class CallbackSpec(StrictModel):
    """A Keras callback of your own: ``{target: "callbacks.py:MyCallback", kwargs: {...}}``."""

    target: str = Field(
        ...,
        description="The class, as 'module:Class' (importable) or 'file.py:Class' (relative paths "
        "are looked up in the project root, then the working folder); it must subclass "
        "keras.callbacks.Callback.",
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments of its constructor (checked against its signature before training).",
    )

    @field_validator("target")
    @classmethod
    def _check_target(cls, value: str) -> str:
        return check_reference(value, "callbacks.py:MyCallback")

    @field_validator("kwargs")
    @classmethod
    def _check_kwargs(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if not str(key).isidentifier():
                raise ValueError(f"{key!r} cannot be a keyword argument")
            _check_finite(item, str(key))
        return value


OPTIONAL_DATA_KEYS: dict[str, Any] = {"features": None, "task": None, "categorical": "onehot"}
"""Data keys of your own tables: left out of the resolved config while unset (see below)."""

OPTIONAL_TRAIN_KEYS: dict[str, Any] = {"class_weight": None, "reduce_lr_on_plateau": None, "callbacks": []}
"""Train keys added after the packaged configs were written: left out of the resolved config (and
so of ``dlab show``, config.yaml and the config hash) while they hold these values, so every
config that does not set them resolves exactly as before."""


class EarlyStoppingConfig(StrictModel):
    """keras.callbacks.EarlyStopping settings."""

    monitor: str = Field("val_loss", description="The history key watched (val_loss, val_accuracy ...).")
    patience: int = Field(5, ge=0, description="Epochs without improvement before training stops.")
    min_delta: float = Field(0.0, ge=0, description="The smallest change that counts as improvement.")
    restore_best_weights: bool = Field(
        True, description="End with the weights of the best epoch rather than the last one."
    )


class CheckpointConfig(StrictModel):
    """keras.callbacks.ModelCheckpoint on the best epoch; the best model is evaluated."""

    monitor: str = Field("val_loss", description="The history key whose best epoch is kept and evaluated.")


class TensorBoardConfig(StrictModel):
    """keras.callbacks.TensorBoard settings: event files in the run's tensorboard/ folder."""

    histogram_freq: int = Field(
        0, ge=0, description="Weight histograms every N epochs (0: none; they cost time on big models)."
    )
    write_graph: bool = Field(True, description="Write the model graph where the backend supports it.")


class TrainConfig(StrictModel):
    """compile() and fit() settings."""

    epochs: int = Field(10, ge=1, description="Training epochs.")
    batch_size: int | None = Field(
        32,
        ge=1,
        description="Samples per gradient step; null: the whole training set (full-batch gradient descent).",
    )
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    loss: str | LossSpec = Field(
        "sparse_categorical_crossentropy",
        description="Any Keras loss by name (sparse_categorical_crossentropy, "
        "categorical_focal_crossentropy, huber ...), with arguments as {name: "
        "categorical_crossentropy, label_smoothing: 0.1}, dlab's half_squared_error, or your own "
        "as 'losses.py:my_loss' / 'mypkg.losses:my_loss' (a function of y_true, y_pred or a "
        "keras.losses.Loss class). Arguments are checked against its signature before training; "
        "from_logits comes from train.from_logits.",
    )
    from_logits: bool = Field(False, description="The model outputs logits, not probabilities.")
    metrics: list[str | MetricSpec] = Field(
        default_factory=lambda: ["accuracy"],
        description="Keras metric names (accuracy, auc, precision ...), dlab's own (sign_accuracy, "
        "perplexity, mean_iou ...), one with arguments ({name: auc, curve: PR}) or your own "
        "('metrics.py:my_metric').",
    )
    class_weight: dict[int, float] | Literal["balanced"] | None = Field(
        None,
        description="Weigh each class's samples in the loss: {0: 1.0, 1: 5.0} (class index -> "
        "positive weight; classes left out weigh 1) or balanced (n_samples / (n_classes * "
        "count), counted on the training split). Classification only.",
    )
    early_stopping: EarlyStoppingConfig | None = None
    checkpoint: CheckpointConfig | None = None
    reduce_lr_on_plateau: ReduceLROnPlateauConfig | None = Field(
        None,
        description="keras.callbacks.ReduceLROnPlateau (true, or {monitor, factor, patience, "
        "min_lr ...}); not together with train.optimizer.schedule.",
    )
    callbacks: list[CallbackSpec] = Field(
        default_factory=list,
        description="Keras callbacks of your own, [{target: 'callbacks.py:MyCallback', kwargs: "
        "{...}}] (or just the target), instantiated with kwargs when training starts. They run "
        "after dlab's own callbacks (timing, history, the experiment's, early stopping, "
        "checkpoint, TensorBoard, reduce_lr_on_plateau, the resume backup), before the run guard "
        "that ends the epoch; a resumed run calls them for the remaining epochs only.",
    )
    shuffle: bool = Field(
        True, description="Shuffle the training samples before every epoch (model.fit's shuffle)."
    )
    kfold: int | None = Field(
        None,
        ge=2,
        description="K-fold cross-validation on the training "
        "data, then a final model on all of it (null: one fit).",
    )
    final_epochs: int | None = Field(
        None, ge=1, description="Epochs of the final model after k-fold (null: train.epochs)."
    )
    steps_per_execution: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        "auto",
        description="Batches per compiled call (Keras compile(steps_per_execution=...)); "
        "auto: the fastest setting measured for this backend and model family, at most "
        "the steps of one epoch; a number (>= 1) is used as given.",
    )
    backend: BackendName = Field(
        "tensorflow",
        description="Keras 3 backend: tensorflow (the default), jax, torch, or auto (the fastest "
        "installed backend for this experiment's model family, from dlab's measured speed table; "
        "opt-in: faster where it picks JAX, but the backend would then depend on what is installed, "
        "and a cold compile cache doubles the first epoch).",
    )
    max_wall_time: float | None = Field(
        None,
        gt=0,
        description="Wall-time budget of the run in seconds (or 90s, 30m, 2h): the "
        "epoch that crosses it is the last (status completed, stopped_early: time_limit).",
    )

    tensorboard: TensorBoardConfig | None = Field(
        None,
        description="Write TensorBoard event files into the run's tensorboard/ (true, or "
        "{histogram_freq: N}); --tensorboard sets it.",
    )

    @field_validator("tensorboard", mode="before")
    @classmethod
    def _tensorboard_switch(cls, value: Any) -> Any:
        return {} if value is True else (None if value is False else value)

    @field_validator("loss", mode="before")
    @classmethod
    def _check_loss(cls, value: Any) -> Any:
        return _check_loss(value)

    @field_validator("metrics", mode="before")
    @classmethod
    def _check_metrics(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError("expected a list of metrics, e.g. [accuracy, {name: auc, curve: PR}]")
        return [_check_metric(item) for item in value]

    @field_validator("class_weight", mode="before")
    @classmethod
    def _check_class_weight(cls, value: Any) -> Any:
        if value is None or value == "balanced":
            return value
        if not isinstance(value, dict) or not value:
            raise ValueError(
                "expected 'balanced' or a mapping of class index to a positive weight, e.g. {0: 1.0, 1: 5.0}"
            )
        weights: dict[int, float] = {}
        for key, weight in value.items():
            text = str(key).strip()
            if isinstance(key, bool) or not text.isdigit():
                raise ValueError(f"the keys are class indices (0, 1, 2 ...), got {key!r}")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise ValueError(f"the weight of class {text} must be a positive number, got {weight!r}")
            if not math.isfinite(weight) or weight <= 0:
                raise ValueError(f"the weight of class {text} must be a positive number, got {weight!r}")
            weights[int(text)] = float(weight)
        return weights

    @field_validator("reduce_lr_on_plateau", mode="before")
    @classmethod
    def _plateau_switch(cls, value: Any) -> Any:
        return {} if value is True else (None if value is False else value)

    @field_validator("reduce_lr_on_plateau")
    @classmethod
    def _plateau_or_schedule(cls, value: Any, info: ValidationInfo) -> Any:
        optimizer = info.data.get("optimizer")
        if value is not None and optimizer is not None and optimizer.schedule is not None:
            raise ValueError(
                f"train.optimizer.schedule ({optimizer.schedule.name}) already sets the learning "
                "rate at every step; ReduceLROnPlateau cannot change it. Use one of the two"
            )
        return value

    @field_validator("callbacks", mode="before")
    @classmethod
    def _callback_targets(cls, value: Any) -> Any:
        if isinstance(value, list):  # a bare target is a callback without kwargs
            return [{"target": item} if isinstance(item, str) else item for item in value]
        return value

    @model_serializer(mode="wrap")
    def _leave_out_unset_options(self, handler: Any) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for key, default in OPTIONAL_TRAIN_KEYS.items():
                if key in data and data[key] == default:
                    del data[key]
        return data

    @property
    def loss_name(self) -> str:
        """The loss's name (the string, or ``name`` of a loss given with arguments)."""
        return self.loss if isinstance(self.loss, str) else self.loss.name

    @property
    def loss_arguments(self) -> dict[str, Any]:
        """The loss's constructor arguments ({} for a loss given by name only)."""
        return {} if isinstance(self.loss, str) else self.loss.arguments

    @field_validator("max_wall_time", mode="before")
    @classmethod
    def _parse_wall_time(cls, value: Any) -> Any:
        return parse_duration(value)

    strategy: str = Field(
        "default",
        description="default: one device; mirrored: tf.distribute.MirroredStrategy over the visible "
        "GPUs (one run, several GPUs; batch_size stays the global batch, split across replicas).",
    )
    precision: str = Field(
        "float32",
        description="Keras dtype policy: float32, mixed_float16 (GPUs of compute capability 7.0+) "
        "or mixed_bfloat16; the model's last layer always computes in float32.",
    )
    jit_compile: bool | Literal["auto"] = Field(
        "auto", description="XLA compilation of the train step: auto (Keras decides), true, false."
    )

    @field_validator("strategy", mode="before")
    @classmethod
    def _check_strategy(cls, value: Any) -> Any:
        from dlab.config.scaling import check_strategy

        return check_strategy(value)

    @field_validator("precision", mode="before")
    @classmethod
    def _check_precision(cls, value: Any) -> Any:
        from dlab.config.scaling import check_precision

        return check_precision(value)

    @field_validator("jit_compile", mode="before")
    @classmethod
    def _check_jit(cls, value: Any) -> Any:
        from dlab.config.scaling import check_jit

        return check_jit(value)


class RunConfig(StrictModel):
    """One runnable config: the common sections plus the experiment's own ``model``."""

    name: str = Field(
        "",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Config name; names the outputs folder (letters, digits, '.', '_', '-').",
    )
    experiment: str = Field(..., description="Registered experiment that runs this config.")
    description: str = Field(
        "", description="What the config shows, in a sentence or two (dlab list prints it)."
    )
    seed: int = Field(42, ge=0, lt=2**32, description="Seeds Python, NumPy and the backend.")
    data: DataConfig = Field(default_factory=DataConfig)
    model: Any = Field(default_factory=dict, description="The experiment's own settings.")
    train: TrainConfig = Field(default_factory=TrainConfig)
    reference: dict[str, ReferenceValue | None] = Field(
        default_factory=dict,
        description="Known results on the real data; a variant sets an inherited entry to null to drop it.",
    )
    _source_path: str | None = PrivateAttr(None)
    _key_origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def source_path(self) -> str | None:
        """The YAML file this config was read from (None when built in memory): code the config
        names by a relative path (``model.build: models.py:build``) is looked up beside it."""
        return self._source_path

    @property
    def key_origins(self) -> dict[str, str]:
        """Where each key the resolution set came from: a YAML file of the ``extends`` chain,
        ``--smoke``, a named flag (``--epochs``) or ``--set``; keys it does not name are
        defaults. Empty for a config built in memory."""
        return dict(self._key_origins)

    def with_source(self, path: str | None, origins: dict[str, str] | None = None) -> RunConfig:
        """This config, remembering the file it was read from and where each key came from
        (neither is part of the config itself)."""
        self._source_path = path
        if origins is not None:
            self._key_origins = dict(origins)
        return self

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
        """A short hash of everything that changes results (:func:`hashed_settings`)."""
        text = json.dumps(hashed_settings(self.to_dict()), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def hashed_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a config (as plain data: ``RunConfig.to_dict()`` or a run's saved config.yaml)
    that changes results, and so enters the config hash: not its name, description, reference.

    One definition for two uses: the hash, and the keys ``dlab runs``/``compare`` label runs by,
    so a logging switch (``--tensorboard``) is never shown as a difference between two runs.
    The argument is not changed.
    """
    data = {key: value for key, value in config.items() if key not in ("name", "description", "reference")}
    train = dict(data["train"]) if isinstance(data.get("train"), dict) else None
    if train is None:
        return data
    train.pop("max_wall_time", None)  # a budget, not a setting of the model
    # how it executes, not what it computes: same math on every backend and call size
    train.pop("backend", None)
    train.pop("steps_per_execution", None)
    train.pop("tensorboard", None)  # what is logged, not what is learned
    for key, default in SCALING_DEFAULTS.items():  # unchanged hashes for runs from before these keys
        if train.get(key) == default:
            train.pop(key, None)
    data["train"] = train
    return data


SCALING_DEFAULTS: dict[str, Any] = {"strategy": "default", "precision": "float32", "jit_compile": "auto"}
"""The scale-up keys at their defaults: left out of the config hash, so older runs keep theirs."""

OWN_FILE_DATASETS = ("csv", "table", "npz", "image_folder", "text_folder")
"""Datasets that read the user's own file and have no synthetic twin: ``--smoke`` reads the file
itself (it is local, nothing to download), limited to the smoke sample counts."""

SMOKE_DEFAULTS: dict[str, Any] = {
    "data.source": "synthetic",
    "data.path": None,
    "data.train_samples": 512,
    "data.test_samples": 128,
    "train.epochs": 1,
    "train.final_epochs": None,  # k-fold's final model: as many epochs as the folds
}
"""What ``--smoke`` sets (an experiment may add to it): synthetic data, few samples, one epoch."""


def parse_duration(value: Any) -> float | None:
    """Seconds from a number or a string such as ``"90"``, ``"90s"``, ``"30m"``, ``"2h"``.

    Raises:
        ValueError: anything else, or a duration that is not positive.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected seconds or a duration like 30m, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        factor = units.get(text[-1:], None)
        number = text[:-1] if factor else text
        try:
            seconds = float(number) * (factor or 1)
        except ValueError:
            raise ValueError(f"expected seconds or a duration like 90s, 30m, 2h; got {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"the wall-time limit must be a positive duration, got {value!r}")
    return seconds
