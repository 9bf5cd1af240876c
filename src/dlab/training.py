"""compile / fit / evaluate with the standard callbacks, and the history summary.

``fit_and_evaluate`` is the one training recipe for Keras experiments: it always
passes validation data to fit, writes the history after every epoch (so a
crashed run keeps what it learned), evaluates on the test split, and records
timings, parameter counts and best epochs for metrics.json.

This module imports Keras at the top: it is only imported by code that trains
(never by ``dlab --help``, ``list`` or ``show``).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from dlab.data import BatchedDataset
from dlab.errors import ConfigError
from dlab.losses import CLASS_METRICS, LOSSES, METRICS
from dlab.reporting import best_epoch, record_history
from dlab.resume import read_backup_metadata

if TYPE_CHECKING:
    from dlab.config import OptimizerConfig, TrainConfig
    from dlab.data import ArrayDataset
    from dlab.experiment import RunContext

History = dict[str, list[float]]

# --------------------------------------------------------------------------- compile


def learning_rate(config: OptimizerConfig, steps_per_epoch: int):
    """The optimizer's learning rate: a number, or a schedule counted in epochs."""
    if config.schedule is None:
        return config.learning_rate
    schedule = config.schedule
    return keras.optimizers.schedules.InverseTimeDecay(
        config.learning_rate, decay_steps=schedule.decay_epochs * steps_per_epoch,
        decay_rate=schedule.decay_rate, staircase=schedule.staircase)


def build_optimizer(config: OptimizerConfig, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    """A Keras optimizer from ``train.optimizer``."""
    classes = {
        "adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
        "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop,
        "adagrad": keras.optimizers.Adagrad, "adadelta": keras.optimizers.Adadelta,
        "adamax": keras.optimizers.Adamax, "nadam": keras.optimizers.Nadam,
        "ftrl": keras.optimizers.Ftrl, "lion": keras.optimizers.Lion,
    }
    kwargs: dict[str, Any] = {"learning_rate": learning_rate(config, steps_per_epoch)}
    if config.momentum is not None:
        kwargs["momentum"] = config.momentum
    if config.clipnorm is not None:
        kwargs["clipnorm"] = config.clipnorm
    if config.global_clipnorm is not None:
        kwargs["global_clipnorm"] = config.global_clipnorm
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


def build_metrics(config: TrainConfig, num_classes: int | None = None) -> list:
    """The compile() metrics for ``train.metrics``: Keras names plus dlab's own.

    Args:
        num_classes: the data's classes, which per-class metrics (mean_iou) need; None
            (before the data meets the model) checks their names only and leaves them out.

    Raises:
        ConfigError: a metric name neither knows, or a per-class metric on data without classes.
    """
    metrics = []
    for name in config.metrics:
        if name in CLASS_METRICS:
            if num_classes is not None and num_classes < 2:
                raise ConfigError(f"train.metrics '{name}' is computed per class and this data has "
                                  f"{num_classes} classes; remove it from train.metrics.")
            if num_classes is not None:
                metrics.append(CLASS_METRICS[name](num_classes))
            continue
        if name in METRICS:
            metrics.append(METRICS[name]())
            continue
        try:
            keras.metrics.get(name)
        except ValueError:
            raise ConfigError(f"Unknown metric '{name}' in train.metrics. Use Keras metric names "
                              "such as accuracy, mae, mse, auc, precision, recall, or "
                              f"{', '.join([*METRICS, *CLASS_METRICS])}.") from None
        metrics.append(name)
    return metrics


def history_name(metric: str) -> str:
    """The key a ``train.metrics`` entry gets in the history (dlab's metrics carry their own)."""
    if metric in METRICS:
        made = METRICS[metric]()
        return getattr(made, "name", None) or made.__name__
    return metric


def compile_model(model: keras.Model, config: TrainConfig, steps_per_epoch: int = 1,
                  num_classes: int = 0) -> None:
    """compile() with the configured optimizer, loss and metrics (``num_classes``: see build_metrics)."""
    model.compile(optimizer=build_optimizer(config.optimizer, steps_per_epoch), loss=build_loss(config),
                  metrics=build_metrics(config, num_classes),
                  steps_per_execution=config.steps_per_execution)


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
    """Rewrites history.csv/json atomically after every epoch.

    It appends to ``ctx.history``, so an interrupted run still reports its
    finished epochs and a resumed run continues the history it already has.
    """

    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.history: History = ctx.history

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.ctx.run_dir.write_history(self.history)


class RunGuardCallback(keras.callbacks.Callback):
    """Checks the run's :class:`~dlab.lifecycle.RunGuard` at every batch and epoch end.

    A stop signal or a NaN/Inf loss raises at the batch boundary (before the
    epoch is recorded, so the history holds whole epochs only); the wall-time
    limit ends training after the epoch that crosses it.

    Args:
        time_limit: False for the k-fold folds (a cut fold would bias the average).
    """

    def __init__(self, ctx: RunContext, time_limit: bool = True) -> None:
        super().__init__()
        self.guard = ctx.guard
        self.time_limit = time_limit
        self.stopped_for_time = False
        self._epoch = 1

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        self.guard.check_batch((logs or {}).get("loss"), self._epoch, batch + 1)

    def on_test_batch_end(self, batch, logs=None):
        self.guard.check_interrupt(f"epoch {self._epoch} (validation)")

    def on_predict_batch_end(self, batch, logs=None):
        self.guard.check_interrupt("prediction")

    def on_epoch_end(self, epoch, logs=None):
        self.guard.check_interrupt(f"the end of epoch {epoch + 1}")
        if self.time_limit and self.guard.time_is_up() and epoch + 1 < self.params.get("epochs", 0):
            self.stopped_for_time = True
            self.model.stop_training = True


class RunBackup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose backup survives a kill at any moment.

    Keras's callback overwrites one weights file and then its metadata; a
    process killed between the two (or in the middle of the weights) leaves a
    backup that cannot be loaded or that names the wrong epoch. Here each
    epoch's weights (model and optimizer state) go to a new file written
    atomically, then ``training_metadata.json`` (epoch, weights file) is
    replaced atomically, then the older weights are removed: the metadata
    always names complete weights of the epoch it says.

    A backup costs a few tens of milliseconds (the weights file dominates), so it
    is written after an epoch only when ``min_interval_s`` (``$DLAB_BACKUP_INTERVAL``,
    default 5 s) have passed since the last one: every epoch of a real run, while a
    tiny model with 30 ms epochs pays at most ~1% and a resume repeats at most
    those seconds. The last epoch writes none (fit deletes the backup right after).
    """

    DEFAULT_INTERVAL_S = 5.0

    def __init__(self, backup_dir: Path, min_interval_s: float | None = None) -> None:
        super().__init__(backup_dir=str(backup_dir), save_freq="epoch", delete_checkpoint=True)
        self.folder = Path(backup_dir)
        self.min_interval_s = self.DEFAULT_INTERVAL_S if min_interval_s is None else min_interval_s
        if min_interval_s is None:
            import os

            try:
                self.min_interval_s = float(os.environ.get("DLAB_BACKUP_INTERVAL",
                                                           self.DEFAULT_INTERVAL_S))
            except ValueError:
                pass
        self._last_save = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if epoch + 1 >= self.params.get("epochs", 0):
            return
        if time.monotonic() - self._last_save >= self.min_interval_s:
            self._save_model()
            self._last_save = time.monotonic()

    def _load_model(self):
        metadata = read_backup_metadata(self.folder)
        if not metadata:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(str(self.folder / metadata["weights"]))
        self.model._initial_epoch = int(metadata["epoch"])

    def _save_model(self):
        from dlab.fileio import atomic_path, atomic_write_json

        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{self._current_epoch}.weights.h5"
        with atomic_path(self.folder / name) as tmp:
            weights_tmp = tmp.with_name(tmp.name + ".weights.h5")  # Keras wants this suffix
            self.model.save_weights(str(weights_tmp), overwrite=True)
            weights_tmp.replace(tmp)
        atomic_write_json(self.folder / "training_metadata.json",
                          {"epoch": self._current_epoch, "batch": 0, "weights": name})
        for old in self.folder.glob("epoch-*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)


# --------------------------------------------------------------------------- fit


@dataclass
class FitResult:
    """What fit_and_evaluate produced."""

    model: keras.Model
    history: History
    test_metrics: dict[str, float]


def targets(labels, config: TrainConfig, num_classes: int):
    """Labels as the loss wants them: one-hot for categorical cross-entropy, and a column
    (N, 1) for a single-output model (Keras's logit metrics insist on equal ranks)."""
    if config.loss == "categorical_crossentropy" and num_classes:
        return keras.utils.to_categorical(labels, num_classes)
    labels = np.asarray(labels)
    if labels.ndim == 1 and config.loss not in ("sparse_categorical_crossentropy",):
        return labels.reshape(-1, 1)
    return labels


def model_summary(model: keras.Model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=100)
    return "\n".join(lines) + "\n"


def count_params(model: keras.Model) -> dict[str, int]:
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    return {"total": int(model.count_params()), "trainable": trainable,
            "non_trainable": int(model.count_params()) - trainable}


def is_stream(data) -> bool:
    """True for datasets held as tf.data streams: they report ``sizes`` and give ``batches()``
    (:class:`dlab.data.folders.StreamDataset`, :class:`dlab.data.BatchedDataset`)."""
    return hasattr(data, "batches")


def train_size(data) -> int:
    """Training samples of an ArrayDataset or a StreamDataset."""
    return data.sizes["train"] if is_stream(data) else len(data.x_train)


def steps_per_epoch(data: ArrayDataset, config: TrainConfig) -> int:
    batch_size = config.batch_size or train_size(data)
    return max(1, math.ceil(train_size(data) / batch_size))


def stream_targets(config: TrainConfig, num_classes: int):
    """:func:`targets` for a batch of labels inside a tf.data pipeline."""
    if config.loss == "categorical_crossentropy" and num_classes:
        return lambda y: keras.ops.one_hot(y, num_classes)
    if config.loss != "sparse_categorical_crossentropy":
        return lambda y: keras.ops.reshape(y, (-1, 1))
    return None


def fit_inputs(data, config: TrainConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """What fit() and evaluate() take for arrays or tf.data streams (batched, shuffled,
    prefetched by the stream itself).

    Returns:
        (fit keyword arguments, evaluate keyword arguments).
    """
    batch_size = config.batch_size or train_size(data)
    if is_stream(data):
        target = stream_targets(config, data.num_classes)
        fit = {"x": data.batches("train", batch_size, shuffle=config.shuffle, target=target),
               "validation_data": data.batches("val", batch_size, target=target),
               "shuffle": False}  # the stream reshuffles itself every epoch
        return fit, {"x": data.batches("test", batch_size, target=target)}
    y_train, y_val, y_test = (targets(y, config, data.num_classes)
                              for y in (data.y_train, data.y_val, data.y_test))
    fit = {"x": data.x_train, "y": y_train, "validation_data": (data.x_val, y_val),
           "batch_size": batch_size, "shuffle": config.shuffle}
    return fit, {"x": data.x_test, "y": y_test, "batch_size": batch_size}


def fit_and_evaluate(model: keras.Model, data: ArrayDataset | BatchedDataset, ctx: RunContext,
                     epochs: int | None = None,
                     callbacks: Sequence[keras.callbacks.Callback] = ()) -> FitResult:
    """Compile, fit (validation data always), evaluate on test, save, and report.

    ``data`` holds the splits as arrays (batch size and shuffling from ``train``) or as
    batched ``tf.data`` datasets (:class:`dlab.data.BatchedDataset`, e.g. time-series windows).

    Writes history.csv/json every epoch, summary.txt, model.keras (unless
    ``--no-save``), the learning curves (and the learning-rate schedule), and
    records final/test metrics, best epochs, timings and parameter counts in ``ctx``.

    Args:
        epochs: train this many epochs instead of ``train.epochs`` (k-fold's final model).
        callbacks: an experiment's own callbacks, given to fit and to the test evaluation
            (e.g. resetting a stateful RNN before every pass).
    """
    train = ctx.config.train
    steps = steps_per_epoch(data, train)
    compile_model(model, train, steps, data.num_classes)
    ctx.run_dir.write_summary(model_summary(model))
    ctx.record(params=count_params(model))

    timer = _EpochTimer()
    guard = RunGuardCallback(ctx)
    writer = _HistoryWriter(ctx)
    # order matters: the history is written before the backup, so a backup never holds an
    # epoch the history lacks (a resume cuts the history to the backup's epoch); the guard
    # comes last, so a stop signal at an epoch's end keeps that finished epoch
    experiment_callbacks = list(callbacks)
    callbacks = [timer, writer, *experiment_callbacks]
    early_stopping = None
    if train.early_stopping is not None:
        stop = train.early_stopping
        early_stopping = keras.callbacks.EarlyStopping(
            monitor=stop.monitor, patience=stop.patience, min_delta=stop.min_delta,
            restore_best_weights=stop.restore_best_weights)
        callbacks.append(early_stopping)
    checkpoint_path = ctx.run_dir.path / "checkpoint-best.keras"
    if train.checkpoint is not None:
        callbacks.append(keras.callbacks.ModelCheckpoint(
            filepath=str(checkpoint_path), monitor=train.checkpoint.monitor, save_best_only=True))
    callbacks.append(RunBackup(ctx.run_dir.path / "backup"))  # what --resume restores
    callbacks.append(guard)

    fit_arguments, test_arguments = fit_inputs(data, train)
    model.fit(**fit_arguments, epochs=epochs or train.epochs, callbacks=callbacks, verbose=1)
    history = writer.history
    if guard.stopped_for_time:
        ctx.record(stopped_early="time_limit")
    elif early_stopping is not None and early_stopping.stopped_epoch > 0:
        ctx.record(stopped_early="early_stopping")

    if train.checkpoint is not None and checkpoint_path.exists():
        model = keras.models.load_model(checkpoint_path, safe_mode=True)
        checkpoint_path.unlink()
        monitor = train.checkpoint.monitor
        best = best_epoch(history, monitor)
        ctx.record(checkpoint={"monitor": monitor, **best})
        if best["epoch"] is not None:
            print(f"dlab: evaluating the best checkpoint: epoch {best['epoch']} of "
                  f"{len(history.get(monitor, []))} ({monitor} {best['value']:.4f})")

    test_metrics = model.evaluate(**test_arguments, return_dict=True, verbose=0,
                                  callbacks=[*experiment_callbacks, guard])
    test_metrics = {key: float(value) for key, value in test_metrics.items()}
    if ctx.save_model:
        ctx.run_dir.save_model(model)

    ctx.record(test=test_metrics, timing=timer.summary(samples_per_epoch=train_size(data)))
    record_history(ctx, history)
    if train.optimizer.schedule is not None:
        from dlab.plots import learning_rate_schedule

        schedule = learning_rate(train.optimizer, steps)
        ctx.run_dir.save_figure(learning_rate_schedule(schedule, steps, epochs or train.epochs,
                                                       title=f"{ctx.config.name}: learning rate"),
                                "learning_rate")
    return FitResult(model=model, history=history, test_metrics=test_metrics)


# --------------------------------------------------------------------------- k-fold


def kfold_splits(n: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, validation indices) per fold: contiguous folds that together
    validate every sample exactly once (sizes differ by at most one).

    Raises:
        ConfigError: k < 2 or k larger than the number of samples.
    """
    if not 2 <= k <= n:
        raise ConfigError(f"train.kfold={k} needs 2 <= k <= the {n} training samples.")
    folds = np.array_split(np.arange(n), k)
    return [(np.concatenate([f for j, f in enumerate(folds) if j != i]), folds[i])
            for i in range(k)]


def kfold_fit_and_evaluate(build_model, data: ArrayDataset, ctx: RunContext,
                           final_model: keras.Model) -> FitResult:
    """K-fold cross-validation on the training data, then the final model on all of it.

    Each fold gets a fresh model from ``build_model(config, fold_data)``, where
    ``fold_data`` holds only that fold's training part in ``x_train``, so anything
    the model learns from its data at build time (a ``Normalization`` layer's mean
    and variance) never sees the fold it is validated on. Per-fold histories go to
    folds.json; metrics.json gets each fold's final validation metrics, their mean
    and standard deviation, and the epoch where the fold-averaged validation curve
    is best; ``plots/kfold_<metric>.png`` draws that curve raw and smoothed. The
    final model trains ``train.final_epochs`` on all training data and is
    evaluated on the test split like any run.
    """
    from dataclasses import replace

    from dlab.fileio import atomic_write_json
    from dlab.plots import kfold_curve

    config, train = ctx.config, ctx.config.train
    folds = []
    for index, (train_rows, val_rows) in enumerate(kfold_splits(len(data.x_train), train.kfold),
                                                   start=1):
        fold = replace(data, x_train=data.x_train[train_rows], y_train=data.y_train[train_rows],
                       x_val=data.x_train[val_rows], y_val=data.y_train[val_rows],
                       validation=f"fold {index} of {train.kfold}")
        keras.utils.set_random_seed(config.seed + index)
        model = build_model(config, fold)
        compile_model(model, train, steps_per_epoch(fold, train), fold.num_classes)
        fitted = model.fit(fold.x_train, targets(fold.y_train, train, fold.num_classes),
                           validation_data=(fold.x_val, targets(fold.y_val, train, fold.num_classes)),
                           epochs=train.epochs, batch_size=train.batch_size or len(fold.x_train),
                           shuffle=train.shuffle, verbose=0,
                           callbacks=[RunGuardCallback(ctx, time_limit=False)])
        history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
        final_val = {k.removeprefix("val_"): v[-1] for k, v in history.items() if k.startswith("val_")}
        print(f"fold {index}/{train.kfold}: " + ", ".join(f"val {k} {v:.4f}"
                                                          for k, v in final_val.items()))
        folds.append({"fold": index, "train_samples": len(train_rows), "val_samples": len(val_rows),
                      "val": final_val, "history": history})
    atomic_write_json(ctx.run_dir.path / "folds.json", folds)

    names = list(folds[0]["val"])
    per_fold = {name: np.array([f["val"][name] for f in folds]) for name in names}
    monitored = f"val_{history_name(train.metrics[0])}" if train.metrics else "val_loss"
    if monitored not in folds[0]["history"]:
        monitored = "val_loss"
    mean_curve = np.mean([f["history"][monitored] for f in folds], axis=0)
    best_mean = best_epoch({monitored: mean_curve.tolist()}, monitored)
    ctx.record(kfold={
        "k": train.kfold,
        "folds": [{"fold": f["fold"], "val": f["val"]} for f in folds],
        "mean": {name: float(values.mean()) for name, values in per_fold.items()},
        "std": {name: float(values.std()) for name, values in per_fold.items()},
        "mean_curve": {"metric": monitored, "best_epoch": best_mean["epoch"],
                       "best_value": best_mean["value"]},
    })
    ctx.run_dir.save_figure(kfold_curve(mean_curve.tolist(), monitored,
                                        title=f"{config.name}: {monitored} averaged over "
                                        f"{train.kfold} folds"), f"kfold_{monitored}")
    keras.utils.set_random_seed(config.seed)
    return fit_and_evaluate(final_model, data, ctx, epochs=train.final_epochs)
