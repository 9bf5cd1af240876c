"""compile / fit / evaluate with the standard callbacks, and the history summary.

``fit_and_evaluate`` is the one training recipe for Keras experiments: it always
passes validation data to fit, writes the history after every epoch (so a
crashed run keeps what it learned), evaluates on the test split, and records
timings, parameter counts and best epochs for metrics.json.

This module imports Keras at the top: it is only imported by code that trains
(never by ``dlab --help``, ``list`` or ``show``).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras

from dlab.errors import ConfigError
from dlab.losses import LOSSES, METRICS
from dlab.reporting import best_epoch, record_history

if TYPE_CHECKING:
    from dlab.config import OptimizerConfig, TrainConfig
    from dlab.data import ArrayDataset
    from dlab.experiment import RunContext

History = dict[str, list[float]]

# --------------------------------------------------------------------------- compile


def build_optimizer(config: OptimizerConfig) -> keras.optimizers.Optimizer:
    """A Keras optimizer from ``train.optimizer``."""
    classes = {
        "adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
        "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop,
        "adagrad": keras.optimizers.Adagrad, "adadelta": keras.optimizers.Adadelta,
        "adamax": keras.optimizers.Adamax, "nadam": keras.optimizers.Nadam,
        "ftrl": keras.optimizers.Ftrl, "lion": keras.optimizers.Lion,
    }
    kwargs: dict[str, Any] = {"learning_rate": config.learning_rate}
    if config.momentum is not None:
        kwargs["momentum"] = config.momentum
    if config.clipnorm is not None:
        kwargs["clipnorm"] = config.clipnorm
    return classes[config.name](**kwargs)


def build_loss(config: TrainConfig) -> keras.losses.Loss:
    """A Keras loss object from ``train.loss`` and ``train.from_logits``."""
    crossentropies = {
        "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
        "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
        "binary_crossentropy": keras.losses.BinaryCrossentropy,
    }
    if config.loss in crossentropies:
        return crossentropies[config.loss](from_logits=config.from_logits)
    return LOSSES.get(config.loss) or keras.losses.get(config.loss)


def compile_model(model: keras.Model, config: TrainConfig) -> None:
    """compile() with the configured optimizer, loss and metrics.

    Raises:
        ConfigError: a metric name Keras does not know.
    """
    metrics = []
    for name in config.metrics:
        if name in METRICS:
            metrics.append(METRICS[name])
            continue
        try:
            keras.metrics.get(name)
        except ValueError:
            raise ConfigError(f"Unknown metric '{name}' in train.metrics. Use Keras metric names "
                              "such as accuracy, mae, mse, auc, precision, recall, or "
                              f"{', '.join(METRICS)}.") from None
        metrics.append(name)
    model.compile(optimizer=build_optimizer(config.optimizer), loss=build_loss(config),
                  metrics=metrics, steps_per_execution=config.steps_per_execution)


# --------------------------------------------------------------------------- callbacks


class _EpochTimer(keras.callbacks.Callback):
    """Times the training part of each epoch (validation excluded) and whole epochs."""

    def __init__(self) -> None:
        super().__init__()
        self.train_seconds: list[float] = []
        self.epoch_seconds: list[float] = []
        self._epoch_start = 0.0
        self._train_end: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._train_end = None

    def on_test_begin(self, logs=None):
        if self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        self.train_seconds.append((self._train_end or end) - self._epoch_start)
        self.epoch_seconds.append(end - self._epoch_start)

    def summary(self, samples_per_epoch: int) -> dict[str, float | None]:
        """The ``timing`` block of metrics.json; samples/s counts training steps only."""
        if not self.epoch_seconds:
            return {"fit_seconds": 0.0, "time_per_epoch_s": None, "train_samples_per_s": None}
        train_seconds = sum(self.train_seconds)
        return {
            "fit_seconds": round(sum(self.epoch_seconds), 3),
            "time_per_epoch_s": round(statistics.median(self.epoch_seconds), 4),
            "train_samples_per_s": round(samples_per_epoch * len(self.train_seconds) / train_seconds, 1)
            if train_seconds > 0 else None,
        }


class _HistoryWriter(keras.callbacks.Callback):
    """Rewrites history.csv/json atomically after every epoch."""

    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.history: History = {}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.ctx.run_dir.write_history(self.history)


# --------------------------------------------------------------------------- fit


@dataclass
class FitResult:
    """What fit_and_evaluate produced."""

    model: keras.Model
    history: History
    test_metrics: dict[str, float]


def targets(labels, config: TrainConfig, num_classes: int):
    """Integer labels as the loss wants them: one-hot for categorical cross-entropy."""
    if config.loss == "categorical_crossentropy" and num_classes:
        return keras.utils.to_categorical(labels, num_classes)
    return labels


def model_summary(model: keras.Model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=100)
    return "\n".join(lines) + "\n"


def count_params(model: keras.Model) -> dict[str, int]:
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    return {"total": int(model.count_params()), "trainable": trainable,
            "non_trainable": int(model.count_params()) - trainable}


def fit_and_evaluate(model: keras.Model, data: ArrayDataset, ctx: RunContext) -> FitResult:
    """Compile, fit (validation data always), evaluate on test, save, and report.

    Writes history.csv/json every epoch, summary.txt, model.keras (unless
    ``--no-save``), the learning curves, and records final/test metrics, best
    epochs, timings and parameter counts in ``ctx``.
    """
    train = ctx.config.train
    compile_model(model, train)
    ctx.run_dir.write_summary(model_summary(model))
    ctx.record(params=count_params(model))

    timer = _EpochTimer()
    writer = _HistoryWriter(ctx)
    callbacks: list[keras.callbacks.Callback] = [timer, writer]
    if train.early_stopping is not None:
        stop = train.early_stopping
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=stop.monitor, patience=stop.patience, min_delta=stop.min_delta,
            restore_best_weights=stop.restore_best_weights))
    checkpoint_path = ctx.run_dir.path / "checkpoint-best.keras"
    if train.checkpoint is not None:
        callbacks.append(keras.callbacks.ModelCheckpoint(
            filepath=str(checkpoint_path), monitor=train.checkpoint.monitor, save_best_only=True))

    batch_size = train.batch_size or len(data.x_train)
    y_train, y_val, y_test = (targets(y, train, data.num_classes)
                              for y in (data.y_train, data.y_val, data.y_test))
    model.fit(
        data.x_train, y_train,
        validation_data=(data.x_val, y_val),
        epochs=train.epochs,
        batch_size=batch_size,
        shuffle=train.shuffle,
        callbacks=callbacks,
        verbose=1,
    )
    history = writer.history

    if train.checkpoint is not None and checkpoint_path.exists():
        model = keras.models.load_model(checkpoint_path)
        checkpoint_path.unlink()
        monitor = train.checkpoint.monitor
        ctx.record(checkpoint={"monitor": monitor, **best_epoch(history, monitor)})

    test_metrics = model.evaluate(data.x_test, y_test, batch_size=batch_size,
                                  return_dict=True, verbose=0)
    test_metrics = {key: float(value) for key, value in test_metrics.items()}
    if ctx.save_model:
        ctx.run_dir.save_model(model)

    ctx.record(test=test_metrics, timing=timer.summary(samples_per_epoch=len(data.x_train)))
    record_history(ctx, history)
    return FitResult(model=model, history=history, test_metrics=test_metrics)
