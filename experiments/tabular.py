"""Tables: Boston housing regression with k-fold, the Higgs overfitting study, and a
credit-card fraud autoencoder.

``tabular_mlp`` is one dense network for tables: an optional ``Normalization``
layer adapted on the data it is fitted on (so k-fold never leaks a validation
fold's statistics), optional Gaussian noise on the inputs, Dense layers with
L1/L2, batch norm and dropout, and one linear output (a regression value, or a
logit for binary classification with ``from_logits``).

``autoencoder_fraud`` learns to reconstruct normal transactions only; the
reconstruction error is the anomaly score, and the threshold is chosen on
validation data (never on the test labels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from dlab import plots
from dlab.config import StrictModel
from dlab.data import ArrayDataset, load_dataset
from dlab.errors import ConfigError, DataError
from dlab.framework.inference import table_spec
from dlab.framework.recipes import KerasExperiment
from dlab.framework.registry import register

if TYPE_CHECKING:
    import keras
    import numpy as np

    from dlab.config import RunConfig


class TabularMlpConfig(StrictModel):
    """A dense network on table rows."""

    normalize: bool = Field(
        True,
        description="Standardize inputs with a Normalization layer "
        "adapted on the training rows the model is fitted on.",
    )
    input_noise: float = Field(
        0.0, ge=0, description="Std of Gaussian noise added to the (normalized) inputs while training."
    )
    hidden: list[int] = Field(default_factory=lambda: [64, 64], description="Units per layer.")
    activation: str = Field("relu", description="Activation of the hidden layers.")
    l1: float = Field(0.0, ge=0, description="L1 penalty on every hidden kernel.")
    l2: float = Field(0.0, ge=0, description="L2 penalty on every hidden kernel.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout after each hidden layer.")
    batchnorm: bool = Field(False, description="Batch normalization in each hidden layer.")


@register("tabular_mlp")
class TabularMlp(KerasExperiment):
    """A dense network on a table: regression (one value) or binary classification (one logit,
    or one probability when the loss is not told ``from_logits``)."""

    family = "tabular"
    ModelConfig = TabularMlpConfig

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        import keras
        from keras import layers

        from dlab.models.blocks import apply_layers, dense_stack  # lazy: imports keras

        settings: TabularMlpConfig = config.model
        inputs = keras.Input(shape=data.x_train.shape[1:], name="features")
        x = inputs
        if settings.normalize:
            normalizer = layers.Normalization(name="normalize")
            normalizer.adapt(data.x_train)  # this fit's training rows only
            x = normalizer(x)
        if settings.input_noise:
            x = layers.GaussianNoise(settings.input_noise, name="input_noise")(x)
        x = apply_layers(
            x,
            dense_stack(
                settings.hidden,
                settings.activation,
                settings.l1,
                settings.l2,
                settings.dropout,
                settings.batchnorm,
            ),
        )
        # binary classification: a logit for from_logits, else a probability; regression: linear
        probability = config.train.loss == "binary_crossentropy" and not config.train.from_logits
        outputs = layers.Dense(1, activation="sigmoid" if probability else None, name="output")(x)
        return keras.Model(inputs, outputs, name=config.name.replace("-", "_"))

    def inference_spec(self, config: RunConfig, data: ArrayDataset) -> dict:
        """Rows by feature name; the Normalization layer inside the model standardizes them."""
        names = None
        if data.name == "boston_housing" and data.x_train.shape[1] == 13:
            from dlab.data.datasets.boston_housing import FEATURES  # lazy: imports numpy

            names = list(FEATURES)
        return table_spec(config, data, names)


# --------------------------------------------------------------------------- fraud autoencoder


class ThresholdConfig(StrictModel):
    """How reconstruction errors become fraud alarms; chosen on validation data only."""

    strategy: Literal["fixed", "percentile", "best_f1"] = Field(
        "best_f1",
        description="fixed value; percentile of normal validation errors; or the "
        "error that maximizes F1 on the validation rows.",
    )
    value: float | None = Field(None, gt=0, description="The threshold for strategy=fixed.")
    percentile: float = Field(99.0, gt=0, lt=100, description="For strategy=percentile.")
    fallback: Literal["percentile"] | None = Field(
        None,
        description="If best_f1 finds no fraud in validation: use the percentile "
        "strategy instead (null: stop with an error).",
    )

    @model_validator(mode="after")
    def _fixed_needs_a_value(self) -> ThresholdConfig:
        if self.strategy == "fixed" and self.value is None:
            raise ValueError("strategy=fixed needs a value, e.g. --set model.threshold.value=0.01")
        return self


class AutoencoderConfig(StrictModel):
    """The report's autoencoder and its threshold."""

    threshold: ThresholdConfig = Field(default_factory=ThresholdConfig)


@dataclass
class FraudData(ArrayDataset):
    """Reconstruction targets (y = x), plus what the threshold and the report need: every
    validation row (normal and fraud) with its label, and the test labels."""

    threshold_x: Any = field(default=None, repr=False)
    threshold_labels: Any = field(default=None, repr=False)
    test_labels: Any = field(default=None, repr=False)
    split_labels: Any = field(default=None, repr=False)  # the split check counts these classes


def scale_transactions(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """The report's preprocessing, statistics from the training rows only: standardize Time
    and Amount (first and last column), then min-max scale every column to [0, 1].

    (Standardizing before a min-max scale changes nothing: both are affine. It is kept
    so the pipeline reads like the report's.)
    """
    import numpy as np

    arrays = [a.astype(np.float32).copy() for a in (train, *others)]
    for column in (0, -1):
        mean, std = arrays[0][:, column].mean(), arrays[0][:, column].std() or 1.0
        for array in arrays:
            array[:, column] = (array[:, column] - mean) / std
    low, high = arrays[0].min(axis=0), arrays[0].max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return [(a - low) / span for a in arrays]


@register("autoencoder_fraud")
class AutoencoderFraud(KerasExperiment):
    """An autoencoder trained on normal transactions flags the ones it reconstructs badly."""

    family = "tabular"
    ModelConfig = AutoencoderConfig
    smoke_overrides = {"data.samples": 6000, "data.train_samples": None, "data.test_samples": None}

    def load_data(self, config: RunConfig) -> FraudData:
        import numpy as np

        data = load_dataset(config.data.model_copy(update={"validation": "test"}), config.seed)
        share = config.data.validation
        if not isinstance(share, float):
            raise ConfigError(
                f"autoencoder-fraud validates on a fraction of the training split; "
                f"data.validation={share!r} is not one. Use e.g. 0.2."
            )
        from dlab.data.checks.splits import stratified_indices  # lazy: imports numpy

        rows = len(data.x_train)
        n_val = max(1, int(rows * share))  # a random share of the training split, frauds in proportion
        is_val = np.zeros(rows, dtype=bool)
        is_val[stratified_indices(data.y_train, n_val, config.seed)] = True
        x_fit, x_val = data.x_train[~is_val], data.x_train[is_val]
        y_fit, y_val = data.y_train[~is_val], data.y_train[is_val]
        x_fit, x_val, x_test = scale_transactions(x_fit, x_val, data.x_test)
        threshold = config.model.threshold
        if threshold.strategy == "best_f1" and not (y_val == 1).any() and not threshold.fallback:
            raise DataError(
                "model.threshold.strategy=best_f1 needs fraud rows in the validation "
                f"data and its {len(y_val)} rows have none. Use more data or a larger "
                "data.validation, strategy=percentile, or allow "
                "--set model.threshold.fallback=percentile."
            )
        normal_fit, normal_val = x_fit[y_fit == 0], x_val[y_val == 0]
        return FraudData(
            name=data.name,
            source=data.source,
            location=data.location,
            x_train=normal_fit,
            y_train=normal_fit,  # learn to reconstruct normal rows
            x_val=normal_val,
            y_val=normal_val,
            x_test=x_test,
            y_test=x_test,
            class_names=data.class_names,
            validation=f"a random {share:.0%} of the training split ({n_val} rows, "
            f"{int((y_val == 1).sum())} frauds, stratified) for loss and threshold",
            extra={
                "frauds_in_train_split": int((y_fit == 1).sum()),
                "frauds_in_validation": int((y_val == 1).sum()),
                "frauds_in_test": int((data.y_test == 1).sum()),
            },
            threshold_x=x_val,
            threshold_labels=np.asarray(y_val),
            test_labels=np.asarray(data.y_test),
            split_labels={
                "train": np.asarray(y_fit),
                "val": np.asarray(y_val),
                "test": np.asarray(data.y_test),
            },
        )

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        import keras
        from keras import layers

        features = data.x_train.shape[1]
        inputs = keras.Input(shape=(features,), name="transaction")
        x = layers.Dense(
            14, activation="tanh", name="encode1", activity_regularizer=keras.regularizers.L2(1e-7)
        )(inputs)
        x = layers.Dropout(0.2, name="drop1")(x)
        x = layers.Dense(7, activation="relu", name="encode2")(x)
        x = layers.Dense(4, activation="leaky_relu", name="code")(x)
        x = layers.Dense(7, activation="relu", name="decode1")(x)
        x = layers.Dropout(0.2, name="drop2")(x)
        x = layers.Dense(14, activation="relu", name="decode2")(x)
        outputs = layers.Dense(features, activation="tanh", name="reconstruction")(x)
        return keras.Model(inputs, outputs, name="fraud_autoencoder")

    def figures(self, ctx, model, data: FraudData, result) -> None:
        import numpy as np

        from dlab.training.outputs import outputs_in_batches  # lazy: imports keras

        def errors(x):
            reconstruction = outputs_in_batches(model, x, 4096)
            return np.mean((reconstruction - x) ** 2, axis=1)

        val_errors = errors(data.threshold_x)
        threshold, how = choose_threshold(ctx.config.model.threshold, val_errors, data.threshold_labels)
        test_errors = errors(data.x_test)  # the test labels are read only from here on
        report = anomaly_report(data.test_labels, test_errors, threshold)
        ctx.record(threshold={"value": threshold, "chosen_by": how}, anomaly_detection=report)
        name = ctx.config.name
        ctx.run_dir.save_figure(
            plots.error_histogram(
                test_errors, data.test_labels, threshold, data.class_names, f"{name}: test errors"
            ),
            "error_histogram",
        )
        ctx.run_dir.save_figure(
            plots.roc_and_pr_curves(data.test_labels, test_errors, f"{name}: test"), "roc_pr_curves"
        )
        ctx.run_dir.save_figure(
            plots.confusion_matrix(
                data.test_labels, (test_errors >= threshold).astype(int), data.class_names, f"{name}: test"
            ),
            "confusion_matrix",
        )


def choose_threshold(settings: ThresholdConfig, errors: np.ndarray, labels: np.ndarray) -> tuple[float, str]:
    """A threshold from validation errors and labels only (the test split never gets here).

    Raises:
        DataError: best_f1 without a single fraud in validation and no fallback allowed.
    """
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    normal = errors[labels == 0]
    if settings.strategy == "fixed":
        return float(settings.value), "fixed value"
    if settings.strategy == "best_f1":
        if (labels == 1).any():
            precision, recall, thresholds = precision_recall_curve(labels, errors)
            f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
            best = int(np.argmax(f1[:-1]))
            return float(thresholds[best]), f"best F1 on validation ({f1[best]:.3f})"
        if settings.fallback != "percentile":
            raise DataError(
                "model.threshold.strategy=best_f1 needs fraud rows in the validation "
                "data and there are none. Use more data, strategy=percentile, or "
                "allow --set model.threshold.fallback=percentile."
            )
    value = float(np.percentile(normal, settings.percentile))
    return value, f"{settings.percentile:g}th percentile of normal validation errors"


def anomaly_report(labels: np.ndarray, errors: np.ndarray, threshold: float) -> dict[str, Any]:
    """Test metrics of 'error >= threshold means fraud' (scikit-learn's rule for thresholds),
    computed by scikit-learn."""
    from sklearn import metrics

    predicted = (errors >= threshold).astype(int)
    both = len(set(labels.tolist())) == 2
    return {
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "precision": float(metrics.precision_score(labels, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(labels, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(labels, errors)) if both else None,
        "average_precision": float(metrics.average_precision_score(labels, errors)) if both else None,
        "confusion_matrix": metrics.confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
    }
