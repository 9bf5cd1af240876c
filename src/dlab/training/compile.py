"""Compile factories: optimizer (with its schedule), loss, metrics and the label encoding they need.

Names and arguments are resolved and checked by :mod:`dlab.training.options`: any Keras
optimizer, schedule, loss or metric with its constructor arguments, or the user's own by
reference. This module imports Keras at the top: only code that trains imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np

from dlab.errors import ConfigError
from dlab.run.scaling import keep_output_float32, keep_recurrent_float32
from dlab.training.execution import resolve_execution
from dlab.training.losses import CLASS_METRICS, METRICS
from dlab.training.options import build_loss as build_keras_loss
from dlab.training.options import (
    build_metric,
    check_train_options,
    is_reference,
    label_encoding,
    optimizer_arguments,
    optimizer_class,
)
from dlab.training.options import learning_rate as learning_rate  # fit.py and dlab.training import it here

if TYPE_CHECKING:
    from dlab.config import OptimizerConfig, TrainConfig


def build_optimizer(config: OptimizerConfig, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    """A Keras optimizer from ``train.optimizer``: the class its name names, with the learning rate
    (or schedule, counted in epochs), the fields that are set and every other key as an argument."""
    optimizer = optimizer_class(config.name)(**optimizer_arguments(config, steps_per_epoch))
    if config.name != "sgd":  # plain and momentum SGD are linear in the gradient: sparse is exact
        sum_repeated_rows(optimizer)
    return optimizer


def sum_repeated_rows(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """On TensorFlow, give the optimizer an embedding's gradient as one dense sum per row.

    TensorFlow differentiates an ``Embedding`` lookup into a ``tf.IndexedSlices`` with one
    slice per *looked-up token*, so a word that occurs k times in a batch has k slices.
    Keras 3's optimizers apply their element-wise ops to the slices
    (``keras/src/backend/tensorflow/sparse.py``: ``elementwise_unary`` maps ``square``, ``abs``
    and ``sqrt`` of ``keras/src/backend/tensorflow/numpy.py`` over ``values``) before adding
    them to their dense state, so Adam's second moment gets ``sum(g_i ** 2)`` instead of
    ``(sum g_i) ** 2`` (``keras/src/optimizers/adam.py`` ``update_step``; RMSprop, Adagrad,
    Adadelta, Adamax, Nadam and Ftrl alike). That is not Adam, and JAX (dense gradients) does
    the true update: on cbow-text the first step already moved embedding rows by up to 3.5x the
    learning rate more on TensorFlow. Summing the slices first makes both backends agree
    (issue 20). These optimizers' state is dense, so the densified gradient costs no extra update.
    The class stays Keras's own (the saved model names ``Adam``); only this instance's ``apply``
    (which ``apply_gradients`` and the loss-scale wrapper call) is wrapped.
    """
    if keras.backend.backend() != "tensorflow":
        return optimizer
    import tensorflow as tf

    apply = optimizer.apply

    def apply_with_summed_rows(grads, trainable_variables=None):
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        return apply(grads, trainable_variables)

    optimizer.apply = apply_with_summed_rows
    return optimizer


def build_loss(config: TrainConfig):
    """A Keras loss from ``train.loss`` (name or ``{name, arguments...}``) and ``train.from_logits``
    (see :func:`dlab.training.options.build_loss`)."""
    return build_keras_loss(config)


def build_metrics(config: TrainConfig, num_classes: int | None = None, check: bool = True) -> list:
    """The compile() metrics for ``train.metrics``: Keras names plus dlab's own.

    Args:
        num_classes: the data's classes, which per-class metrics (mean_iou) need; None
            (before the data meets the model) checks their names only and leaves them out.
        check: first check every train setting that becomes a Keras object
            (:func:`dlab.training.options.check_train_options`: optimizer, schedule, loss,
            metrics, class weights, callbacks). ``KerasExperiment.prepare`` calls this before
            the run directory exists, so a bad setting stops the run with exit code 2;
            :func:`compile_model` (already checked) passes False.

    Raises:
        ConfigError: a metric name neither knows, a per-class metric on data without classes,
            or (with ``check``) any setting :func:`~dlab.training.options.check_train_options` refuses.
    """
    if check:
        check_train_options(config, num_classes)
    metrics = []
    for index, entry in enumerate(config.metrics):
        if not isinstance(entry, str) or is_reference(entry):
            metrics.append(build_metric(entry, index))
            continue
        name = entry
        if name in CLASS_METRICS:
            if num_classes is not None and num_classes < 2:
                raise ConfigError(
                    f"train.metrics '{name}' is computed per class and this data has "
                    f"{num_classes} classes; remove it from train.metrics."
                )
            if num_classes is not None:
                metrics.append(CLASS_METRICS[name](num_classes))
            continue
        if name in METRICS:
            metrics.append(METRICS[name]())
            continue
        try:
            keras.metrics.get(name)
        except ValueError:
            raise ConfigError(
                f"Unknown metric '{name}' in train.metrics. Use Keras metric names "
                "such as accuracy, mae, mse, auc, precision, recall, or "
                f"{', '.join([*METRICS, *CLASS_METRICS])}."
            ) from None
        metrics.append(name)
    return metrics


def history_name(metric) -> str:
    """The key a ``train.metrics`` entry gets in the history (dlab's metrics carry their own, as
    do metrics given with arguments or by reference: their object's name)."""
    if not isinstance(metric, str) or is_reference(metric):
        made = build_metric(metric)
        return getattr(made, "name", None) or made.__name__
    if metric in METRICS:
        made = METRICS[metric]()
        return getattr(made, "name", None) or made.__name__
    return metric


def compile_model(
    model: keras.Model, config: TrainConfig, steps_per_epoch: int = 1, num_classes: int = 0
) -> None:
    """compile() with the configured optimizer, loss and metrics (``num_classes``: see build_metrics).

    ``train.steps_per_execution: auto`` is resolved here (:mod:`dlab.training.execution`);
    the model keeps the resolution as ``model.dlab_execution`` for metrics.json.
    Under a mixed dtype policy the last layer is switched to float32 first (stable softmax/logits),
    and so are recurrent layers on JAX (its cuDNN kernels take float32 only);
    ``train.jit_compile`` goes to Keras as is (``auto`` lets Keras decide).
    """
    if config.precision != "float32":
        keep_output_float32(model)
        keep_recurrent_float32(model)

    execution = resolve_execution(config, model, steps_per_epoch)
    model.compile(
        jit_compile=config.jit_compile,
        optimizer=build_optimizer(config.optimizer, steps_per_epoch),
        loss=build_loss(config),
        metrics=build_metrics(config, num_classes, check=False),
        steps_per_execution=execution.steps_per_execution,
    )
    model.dlab_execution = execution


# --------------------------------------------------------------------------- labels
def targets(labels, config: TrainConfig, num_classes: int):
    """Labels as the loss wants them: one-hot for the categorical losses (categorical
    cross-entropy, its focal variant, categorical hinge), and a column (N, 1) for a
    single-output model (Keras's logit metrics insist on equal ranks); sparse categorical
    cross-entropy takes the class indices as they are (see :func:`~dlab.training.options.label_encoding`)."""
    encoding = label_encoding(config)
    if encoding == "one_hot" and num_classes:
        return keras.utils.to_categorical(labels, num_classes)
    labels = np.asarray(labels)
    if labels.ndim == 1 and encoding != "sparse":
        return labels.reshape(-1, 1)
    return labels
