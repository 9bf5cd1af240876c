"""The config schema: one typed model per section, a default and a description for every field.

Unknown keys are errors (:class:`StrictModel`); every experiment adds its own
``model`` section schema (``Experiment.ModelConfig``). Nothing here imports
TensorFlow or Keras, so ``dlab show`` stays fast.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, PositiveInt, field_validator

from dlab.config.references import ReferenceValue
from dlab.config.strict import StrictModel

# --------------------------------------------------------------------------- models

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
BackendName = Literal["auto", "tensorflow", "jax", "torch"]
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
    target: str | None = Field(None, description="Target column of a CSV file (source: file).")
    num_words: int | None = Field(
        None,
        ge=1,
        description="Text: keep the N most frequent words "
        "(others become out-of-vocabulary); null: the whole vocabulary.",
    )
    maxlen: int | None = Field(
        None,
        ge=1,
        description="Text: pad or truncate every document to "
        "this many words, keeping the last ones (sequence models).",
    )

    image_size: PositiveInt | tuple[PositiveInt, PositiveInt] | None = Field(
        None,
        description="Segmentation: resize images (bilinear) and masks (nearest "
        "neighbour) to this height and width (one number: square); null: the dataset's own "
        "(200 for oxford_pets).",
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
        None,
        gt=0,
        description="Clip all gradients together to this global norm (d2l's "
        "grad_clipping: one norm over every parameter).",
    )


class EarlyStoppingConfig(StrictModel):
    """keras.callbacks.EarlyStopping settings."""

    monitor: str = "val_loss"
    patience: int = Field(5, ge=0)
    min_delta: float = Field(0.0, ge=0)
    restore_best_weights: bool = True


class CheckpointConfig(StrictModel):
    """keras.callbacks.ModelCheckpoint on the best epoch; the best model is evaluated."""

    monitor: str = "val_loss"


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
    loss: LossName = Field("sparse_categorical_crossentropy", description="Keras loss name.")
    from_logits: bool = Field(False, description="The model outputs logits, not probabilities.")
    metrics: list[str] = Field(default_factory=lambda: ["accuracy"])
    early_stopping: EarlyStoppingConfig | None = None
    checkpoint: CheckpointConfig | None = None
    shuffle: bool = True
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
        "opt-in until every family's losses match TensorFlow's within tolerance).",
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
    description: str = ""
    seed: int = Field(42, ge=0, lt=2**32, description="Seeds Python, NumPy and the backend.")
    data: DataConfig = Field(default_factory=DataConfig)
    model: Any = Field(default_factory=dict, description="The experiment's own settings.")
    train: TrainConfig = Field(default_factory=TrainConfig)
    reference: dict[str, ReferenceValue | None] = Field(
        default_factory=dict,
        description="Known results on the real data; a variant sets an inherited entry to null to drop it.",
    )

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
        # how it executes, not what it computes: same math on every backend and call size
        data["train"].pop("backend", None)
        data["train"].pop("steps_per_execution", None)
        data["train"].pop("tensorboard", None)  # what is logged, not what is learned
        for key, default in SCALING_DEFAULTS.items():  # unchanged hashes for runs from before these keys
            if data["train"].get(key) == default:
                data["train"].pop(key, None)
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


SCALING_DEFAULTS: dict[str, Any] = {"strategy": "default", "precision": "float32", "jit_compile": "auto"}
"""The scale-up keys at their defaults: left out of the config hash, so older runs keep theirs."""

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
