"""A model's outputs for the few thousand samples a figure needs, without tracing ``predict``.

``model.predict`` traces and compiles a prediction function the first time it is called
(and, under ``steps_per_execution``, a loop of many steps). For the test predictions behind
a confusion matrix or an error histogram that tracing costs more than the math: 1.0 s for
2,000 MNIST images through the dense MLP, against 0.05 s for calling the model directly.
``model(x, training=False)`` is what ``predict`` runs on each batch, so the outputs are the
same (to float rounding).

Recurrent models are the exception: called eagerly, an LSTM or GRU runs its loop over the
time steps op by op, which costs far more than ``predict``'s tracing (500 IMDB reviews of
200 words through lstm-imdb's LSTM: 3.0 s eagerly, 0.47 s through ``predict``, tracing
included), so those go through ``predict``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from dlab.models.families import has_recurrent_layer

INPUT_ELEMENTS_PER_CALL = 1 << 20
"""Input numbers in one direct call: 256 MNIST or CIFAR-10 images, but no more than the training
batch of 224 x 224 x 3 images (whose activations, not their inputs, bound the memory)."""
MAX_CALL_BATCH = 256


def call_batch_size(train_batch_size: int, x: Any) -> int:
    """Samples per direct call: at least the training batch (training held a batch's activations
    and their gradients at once, so it always fits), up to 256 where the samples are small.

    Every call is one eager pass through the layers from Python: at cnn-mnist's batch of 32,
    1,000 test images took 0.43 s in 32 calls, most of it per-call overhead, not math.
    """
    per_sample = int(np.prod(np.shape(x)[1:], dtype=np.int64)) or 1
    return max(1, int(train_batch_size), min(MAX_CALL_BATCH, INPUT_ELEMENTS_PER_CALL // per_sample))


def outputs_in_batches(model: keras.Model, x: Any, batch_size: int) -> Any:
    """``model(batch, training=False)`` over ``x`` as one NumPy array, in batches of
    :func:`call_batch_size` (``batch_size``, the training batch, or more where samples are small).
    """
    size = call_batch_size(batch_size, x)
    if has_recurrent_layer(model) and len(x):
        return np.asarray(model.predict(x, batch_size=max(1, int(batch_size)), verbose=0))
    chunks = [
        keras.ops.convert_to_numpy(model(x[start : start + size], training=False))
        for start in range(0, len(x), size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, *model.output_shape[1:]), "float32")
