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


def outputs_in_batches(model: keras.Model, x: Any, batch_size: int) -> Any:
    """``model(batch, training=False)`` over ``x`` in batches of ``batch_size``, as one NumPy array.

    ``batch_size`` bounds the memory of one call: the training batch size is always safe,
    since training held a batch's activations and their gradients at once.
    """
    size = max(1, int(batch_size))
    if has_recurrent_layer(model) and len(x):
        return np.asarray(model.predict(x, batch_size=size, verbose=0))
    chunks = [
        keras.ops.convert_to_numpy(model(x[start : start + size], training=False))
        for start in range(0, len(x), size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, *model.output_shape[1:]), "float32")
