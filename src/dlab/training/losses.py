"""Losses and metrics that Keras does not ship, registered so saved models load back.

The TensorFlow Playground trains a tanh output against labels -1/+1 with the
squared error 0.5 * (output - label)^2 and shows its mean as "loss"; dlab's
playground reproduces that exactly, so the study's goal (test loss <= 0.177)
means what it meant in the Playground.

Language models report perplexity (:class:`Perplexity`): exp of the mean
cross-entropy per token, accumulated over tokens as d2l computes it.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlab")
def half_squared_error(y_true, y_pred):
    """Mean of 0.5 * (y_pred - y_true)^2 over the last axis (the Playground's loss)."""
    y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
    return 0.5 * ops.mean(ops.square(y_pred - y_true), axis=-1)


@keras.saving.register_keras_serializable(package="dlab")
def sign_accuracy(y_true, y_pred):
    """Accuracy for labels -1/+1 and outputs in (-1, 1): do the signs agree?"""
    y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
    agree = ops.equal(ops.greater_equal(y_true, 0), ops.greater_equal(y_pred, 0))
    return ops.mean(ops.cast(agree, "float32"), axis=-1)


@keras.saving.register_keras_serializable(package="dlab")
class Perplexity(keras.metrics.Metric):
    """exp(mean cross-entropy per token) over everything seen since the last reset.

    The mean is over tokens, not over batch means, so a short last batch counts
    what it holds: d2l's ``math.exp(metric[0] / metric[1])`` (summed loss over
    token count). Labels are token ids, predictions logits (or probabilities with
    ``from_logits=False``) over the vocabulary on the last axis.
    """

    def __init__(self, from_logits: bool = True, name: str = "perplexity", **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits = from_logits
        self._direction = "down"  # lower is better: EarlyStopping/ModelCheckpoint's mode="auto" read it
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        entropy = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)
        weight = (
            ops.ones_like(entropy)
            if sample_weight is None
            else ops.broadcast_to(ops.cast(sample_weight, entropy.dtype), ops.shape(entropy))
        )
        self.total.assign_add(ops.cast(ops.sum(entropy * weight), self.total.dtype))
        self.count.assign_add(ops.cast(ops.sum(weight), self.count.dtype))

    def result(self):
        return ops.exp(ops.divide_no_nan(self.total, self.count))

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="dlab")
class SparseMeanIoU(keras.metrics.MeanIoU):
    """Mean intersection over union of integer masks and per-pixel class scores.

    For each class, |true AND predicted| / |true OR predicted| pixels, accumulated over
    everything seen since the last reset (a confusion matrix), then averaged over the
    classes that occur in either (keras.metrics.MeanIoU). Labels are class numbers
    (..., 1) or (...); predictions are scores over the classes on the last axis
    (softmax or logits: the argmax is the same).
    """

    def __init__(self, num_classes: int, name: str = "mean_iou", **kwargs):
        kwargs.setdefault("sparse_y_pred", False)
        super().__init__(num_classes=num_classes, name=name, **kwargs)


@keras.saving.register_keras_serializable(package="dlab")
class ProbabilitySparseCrossentropy(keras.losses.SparseCategoricalCrossentropy):
    """Sparse categorical cross-entropy of probabilities, written in ``keras.ops`` for PyTorch.

    Keras 3.15's PyTorch kernel (``keras/src/backend/torch/nn.py``) moves the class axis of a
    rank-4 output to position 1 as a strided view and hands its log to ``torch.nn.functional.nll_loss``,
    whose CPU backward refuses the non-contiguous result ("grad_input must be contiguous"): a
    per-pixel softmax (segmentation-pets) cannot train on PyTorch. This computes that kernel's
    formula (normalise, clip to [eps, 1 - eps], log, pick the label's class) in ops that have
    no such restriction. :func:`dlab.training.compile.build_loss` uses it on PyTorch only, so TensorFlow
    and JAX keep Keras's own kernels.
    """

    def __init__(self, name: str = "sparse_categorical_crossentropy", **kwargs):
        kwargs.pop("from_logits", None)
        super().__init__(from_logits=False, name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, "int32")
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
            y_true = ops.squeeze(y_true, axis=-1)
        epsilon = keras.config.epsilon()
        probabilities = ops.clip(y_pred / ops.sum(y_pred, axis=-1, keepdims=True), epsilon, 1.0 - epsilon)
        picked = ops.take_along_axis(ops.log(probabilities), ops.expand_dims(y_true, -1), axis=-1)
        return -ops.squeeze(picked, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.pop("from_logits", None)
        return config


@keras.saving.register_keras_serializable(package="dlab")
class FunctionLoss(keras.losses.Loss):
    """A loss function of the user's (``train.loss: {name: losses.py:focal, gamma: 3}``) called
    with the config's keyword arguments: ``fn(y_true, y_pred, **arguments)``.

    Labels and predictions are brought to the same rank first (a trailing axis of 1 dropped),
    as Keras does for a loss function given to ``compile`` as it is.
    """

    def __init__(self, fn, name: str | None = None, reduction="sum_over_batch_size", dtype=None, **arguments):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self.arguments = arguments

    def call(self, y_true, y_pred):
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
        if true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
            y_true = ops.squeeze(y_true, axis=-1)
        elif pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
            y_pred = ops.squeeze(y_pred, axis=-1)
        return self.fn(y_true, y_pred, **self.arguments)

    def get_config(self):
        return {
            **super().get_config(),
            "fn": keras.saving.serialize_keras_object(self.fn),
            **self.arguments,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = keras.saving.deserialize_keras_object(config.pop("fn"))
        return cls(fn, **config)


LOSSES = {"half_squared_error": half_squared_error}
METRICS = {
    "sign_accuracy": lambda: sign_accuracy,
    # For a model that outputs logits (the TensorFlow overfit tutorial): cross-entropy and
    # accuracy computed on the logits, named as the tutorial's history names them.
    "logit_binary_crossentropy": lambda: keras.metrics.BinaryCrossentropy(
        from_logits=True, name="binary_crossentropy"
    ),
    "logit_accuracy": lambda: keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy"),
    # Language models (outputs: logits over the vocabulary): exp of the mean token cross-entropy.
    "perplexity": lambda: Perplexity(from_logits=True),
}
"""Metric names dlab adds to Keras's, each a factory (a fresh metric object per compile)."""

CLASS_METRICS = {
    # Segmentation: pixel IoU per class, averaged (sparse masks, scores per class).
    "mean_iou": lambda num_classes: SparseMeanIoU(num_classes),
}
"""Metric names whose metric needs the data's number of classes: factory(num_classes)."""
