"""compile / fit / evaluate with the standard callbacks, and the history summary.

``fit_and_evaluate`` is the one training recipe for Keras experiments: it always
passes validation data to fit, writes the history after every epoch (so a
crashed run keeps what it learned), evaluates on the test split (or takes the last
validation pass, where that was the test evaluation), and records timings, parameter
counts and best epochs for metrics.json.

This module imports Keras at the top: it is only imported by code that trains
(never by ``dlab --help``, ``list`` or ``show``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras

from dlab.data.modalities.sparse_rows import reads_sparse_inputs, sparse_batches
from dlab.plots import learning_rate_schedule
from dlab.run.history import History, best_epoch, record_history
from dlab.tracking.tensorboard import tensorboard_callback
from dlab.training.batches import array_fit_arguments
from dlab.training.callbacks import EpochTimer, HistoryWriter, RunBackup, RunGuardCallback, config_callbacks
from dlab.training.compile import compile_model, learning_rate, targets
from dlab.training.options import class_weights, label_encoding
from dlab.training.test_pass import EVALUATED, LAST_VALIDATION, last_validation_metrics, reevaluate_because

if TYPE_CHECKING:
    from dlab.config import TrainConfig
    from dlab.data import ArrayDataset, Dataset
    from dlab.run.context import RunContext


@dataclass
class FitResult:
    """What fit_and_evaluate produced."""

    model: keras.Model
    history: History
    test_metrics: dict[str, float]


def model_summary(model: keras.Model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=100)
    return "\n".join(lines) + "\n"


def count_params(model: keras.Model) -> dict[str, int]:
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    return {
        "total": int(model.count_params()),
        "trainable": trainable,
        "non_trainable": int(model.count_params()) - trainable,
    }


def is_stream(data: Dataset) -> bool:
    """True for datasets whose splits are tf.data streams rather than arrays."""
    return data.read(_HeldAsStreams())


def train_size(data: Dataset) -> int:
    """Training samples of any dataset (its ``sizes``)."""
    return data.sizes["train"]


def steps_per_epoch(data: Dataset, config: TrainConfig) -> int:
    batch_size = config.batch_size or train_size(data)
    return max(1, math.ceil(train_size(data) / batch_size))


def stream_targets(config: TrainConfig, num_classes: int):
    """:func:`targets` for a batch of labels inside a tf.data pipeline."""
    import tensorflow as tf  # inside tf.data every backend's pipeline is TensorFlow

    encoding = label_encoding(config)
    if encoding == "one_hot" and num_classes:
        return lambda y: tf.one_hot(y, num_classes)
    if encoding != "sparse":
        return lambda y: tf.reshape(y, (-1, 1))
    return None


def fit_inputs(
    data: Dataset,
    config: TrainConfig,
    sparse: bool = False,
    model: keras.Model | None = None,
    seed: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What fit() and evaluate() take for a dataset, read the way it holds its splits
    (:meth:`dlab.data.Dataset.read`): tf.data streams as their batches (batched, shuffled,
    prefetched by the stream itself), arrays as below.

    Args:
        sparse: feed the arrays' rows as sparse batches (:mod:`dlab.data.modalities.sparse_rows`), for
            a model whose input is declared sparse
            (:func:`~dlab.data.modalities.sparse_rows.reads_sparse_inputs`).
        model: the compiled model; arrays are fed through one repeating pipeline where an
            epoch is a whole number of its compiled calls (:mod:`dlab.training.batches`), and a
            new pass every epoch otherwise or without it.
        seed: draws the order of shuffled arrays (the run's seed).

    Returns:
        (fit keyword arguments, evaluate keyword arguments).
    """
    batch_size = config.batch_size or train_size(data)
    return data.read(_FitInputs(config, batch_size, sparse, model, seed))


@dataclass
class _FitInputs:
    """The fit and evaluate arguments of :func:`fit_inputs`, for each way a dataset holds its
    splits (a :class:`dlab.data.SplitReader`)."""

    config: TrainConfig
    batch_size: int
    sparse: bool
    model: keras.Model | None
    seed: int | None

    def batches(self, data: Dataset) -> tuple[dict[str, Any], dict[str, Any]]:
        target = stream_targets(self.config, data.num_classes)
        fit = {
            "x": data.batches("train", self.batch_size, shuffle=self.config.shuffle, target=target),
            "validation_data": data.batches("val", self.batch_size, target=target),
            "shuffle": False,
        }  # the stream reshuffles itself every epoch
        return fit, {"x": data.batches("test", self.batch_size, target=target)}

    def arrays(self, data: ArrayDataset) -> tuple[dict[str, Any], dict[str, Any]]:
        config, batch_size, model = self.config, self.batch_size, self.model
        y_train, y_val, y_test = (
            targets(y, config, data.num_classes) for y in (data.y_train, data.y_val, data.y_test)
        )
        if self.sparse:
            fit: dict[str, Any] = {"shuffle": False}
            for key, steps_key, rows, labels in (
                ("x", "steps_per_epoch", data.x_train, y_train),
                ("validation_data", "validation_steps", data.x_val, y_val),
            ):
                batches = sparse_batches(rows, labels, batch_size, shuffle=config.shuffle and key == "x")
                steps = math.ceil(len(rows) / batch_size)
                if model is not None and steps % model.steps_per_execution == 0:  # as for arrays:
                    batches, fit[steps_key] = batches.repeat(), steps  # one iterator per fit
                fit[key] = batches
            return fit, {"x": sparse_batches(data.x_test, y_test, batch_size)}
        fit = array_fit_arguments(
            data.x_train, y_train, (data.x_val, y_val), batch_size, config.shuffle, model, self.seed
        )
        return fit, {"x": data.x_test, "y": y_test, "batch_size": batch_size}


class _HeldAsStreams:
    """Whether a dataset is read as streams (a :class:`dlab.data.SplitReader`)."""

    def arrays(self, data: ArrayDataset) -> bool:
        return False

    def batches(self, data: Dataset) -> bool:
        return True


def fit_and_evaluate(
    model: keras.Model,
    data: Dataset,
    ctx: RunContext,
    epochs: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    """Compile, fit (validation data always), evaluate on test, save, and report.

    The test evaluation is the last epoch's validation pass where that pass was on the test split
    and nothing changed the model after it (:mod:`dlab.training.test_pass`); metrics.json's
    ``test_from`` says which.

    ``data`` is any dataset of the contract (:class:`dlab.data.Dataset`): arrays (batch size
    and shuffling from ``train``) or tf.data streams (class-folder trees, time-series windows),
    read through :func:`fit_inputs`.

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
    sparse = reads_sparse_inputs(model)
    ctx.summary.setdefault("execution", {}).update(model.dlab_execution.to_dict(), sparse_inputs=sparse)
    ctx.run_dir.write_summary(model_summary(model))
    ctx.record(params=count_params(model))
    ctx.record(jit_compile_used=bool(model.jit_compile))  # what Keras made of train.jit_compile

    standard = _StandardCallbacks.for_run(ctx, list(callbacks))
    fit_arguments, test_arguments = fit_inputs(data, train, sparse, model, ctx.config.seed)
    with ctx.stages.time("fit"):
        model.fit(
            **fit_arguments,
            epochs=epochs or train.epochs,
            callbacks=standard.all,
            verbose=ctx.verbose,
            class_weight=class_weights(train, data),
        )
    history = standard.writer.history
    if standard.guard.stopped_for_time:
        ctx.record(stopped_early="time_limit")
    elif standard.early_stopping is not None and standard.early_stopping.stopped_epoch > 0:
        ctx.record(stopped_early="early_stopping")
    if train.checkpoint is not None and standard.checkpoint_path.exists():
        model = _best_checkpoint(ctx, history, standard.checkpoint_path)

    with ctx.stages.time("evaluate"):
        test_metrics, test_from = _test_metrics(model, data, ctx, standard, history, test_arguments)
    ctx.record(test_from=test_from)
    if ctx.save_model:
        with ctx.stages.time("save_model"):
            ctx.run_dir.save_model(model)

    ctx.record(test=test_metrics, timing=standard.timer.summary(samples_per_epoch=train_size(data)))
    record_history(ctx, history)
    if train.optimizer.schedule is not None or "learning_rate" in history:
        _save_learning_rate_figure(ctx, steps, epochs or train.epochs, history.get("learning_rate"))
    return FitResult(model=model, history=history, test_metrics=test_metrics)


def _test_metrics(
    model: keras.Model,
    data: Dataset,
    ctx: RunContext,
    standard: _StandardCallbacks,
    history: History,
    test_arguments: dict[str, Any],
) -> tuple[dict[str, float], str]:
    """The test metrics and the pass they come from (:mod:`dlab.training.test_pass`): the last
    validation pass where it was the test evaluation, else ``evaluate`` on the test split."""
    reason = reevaluate_because(
        model,
        data,
        ctx.config.train,
        experiment_callbacks=bool(standard.experiment),
        resumed=ctx.resume,
        stopped_for_time=standard.guard.stopped_for_time,
    )
    reused = None if reason else last_validation_metrics(history)
    if reused is not None:
        return reused, LAST_VALIDATION
    evaluated = model.evaluate(
        **test_arguments, return_dict=True, verbose=0, callbacks=[*standard.experiment, standard.guard]
    )
    return {key: float(value) for key, value in evaluated.items()}, EVALUATED


@dataclass
class _StandardCallbacks:
    """The callbacks every Keras run trains with, in the order they must run.

    The history is written before the backup, so a backup never holds an epoch the
    history lacks (a resume cuts the history to the backup's epoch); the guard comes
    last, so a stop signal at an epoch's end keeps that finished epoch.
    """

    all: list[keras.callbacks.Callback]
    experiment: list[keras.callbacks.Callback]
    timer: EpochTimer
    writer: HistoryWriter
    guard: RunGuardCallback
    early_stopping: keras.callbacks.EarlyStopping | None
    checkpoint_path: Path

    @classmethod
    def for_run(cls, ctx: RunContext, experiment: list[keras.callbacks.Callback]) -> _StandardCallbacks:
        train = ctx.config.train
        timer, writer, guard = EpochTimer(), HistoryWriter(ctx), RunGuardCallback(ctx)
        chain: list[keras.callbacks.Callback] = [timer, writer, *experiment]
        early_stopping = None
        if train.early_stopping is not None:
            stop = train.early_stopping
            early_stopping = keras.callbacks.EarlyStopping(
                monitor=stop.monitor,
                patience=stop.patience,
                min_delta=stop.min_delta,
                restore_best_weights=stop.restore_best_weights,
            )
            chain.append(early_stopping)
        checkpoint_path = ctx.run_dir.path / "checkpoint-best.keras"
        if train.checkpoint is not None:
            chain.append(
                keras.callbacks.ModelCheckpoint(
                    filepath=str(checkpoint_path), monitor=train.checkpoint.monitor, save_best_only=True
                )
            )
        if train.tensorboard is not None:  # before the backup: a resume continues the event files
            chain.append(tensorboard_callback(ctx.run_dir.path, train.tensorboard))
        own, users = config_callbacks(train)
        chain.extend(own)  # ReduceLROnPlateau: before the backup, which then holds the reduced rate
        # what --resume restores
        chain.append(RunBackup(ctx.run_dir.path / "backup", restore=ctx.backup if ctx.resume else None))
        chain.extend(users)  # the user's train.callbacks: after dlab's own, before the guard
        chain.append(guard)
        return cls(chain, experiment, timer, writer, guard, early_stopping, checkpoint_path)


def _best_checkpoint(ctx: RunContext, history: History, path: Path) -> keras.Model:
    """The best checkpoint's model, to evaluate instead of the last epoch's (and say which epoch)."""
    model = keras.models.load_model(path, safe_mode=True)  # removed when the run completes
    # (dlab.run.backupfile.remove_resume_state): a resume evaluates it again
    monitor = ctx.config.train.checkpoint.monitor
    best = best_epoch(history, monitor)
    ctx.record(checkpoint={"monitor": monitor, **best})
    if best["epoch"] is not None:
        print(
            f"dlab: evaluating the best checkpoint: epoch {best['epoch']} of "
            f"{len(history.get(monitor, []))} ({monitor} {best['value']:.4f})"
        )
    return model


def _save_learning_rate_figure(ctx: RunContext, steps: int, epochs: int, applied=None) -> None:
    schedule = learning_rate(ctx.config.train.optimizer, steps)
    ctx.run_dir.save_figure(
        learning_rate_schedule(
            schedule, steps, epochs, title=f"{ctx.config.name}: learning rate", applied=applied
        ),
        "learning_rate",
    )


# --------------------------------------------------------------------------- k-fold
