"""In-memory arrays fed to ``fit`` through one tf.data pipeline that serves every epoch.

Given NumPy arrays, Keras batches them with a tf.data pipeline of its own and starts a
new iterator over it every epoch and every validation pass: about 30 ms each on this
kind of CPU, whatever the size of the data. For a small table that is most of an epoch:
one Boston fold (303 rows, 19 batches of 16) took 33 ms an epoch from arrays, 5-7 ms from
the repeating pipeline here and 15 ms from the same pipeline started anew every epoch, in
one process with the same model and 19 steps per execution.

Where it can, the pipeline repeats forever and ``fit`` is told how many batches make an epoch
(``steps_per_epoch``, ``validation_steps``), so Keras keeps one iterator for the whole
fit, where an epoch is a whole number of compiled calls (see :func:`array_fit_arguments`).
The batches are the ones Keras makes: the same rows, ``batch_size`` at a time, the last
one partial (:func:`dlab.data.modalities.arrays.array_batches`). Unshuffled, they come in
the same order; shuffled, the order is drawn by tf.data (a new one every epoch, from the
run's seed), so the same seed gives the same run, but not the order Keras would have drawn.
The rows are shuffled as indices and gathered per batch, as Keras does, so the data is held
once, not again in a shuffle buffer.

TensorFlow only (:data:`REPEATING_BACKENDS`): the speed table of the other backends was
measured with Keras's own array batching, which they keep.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from dlab.data.modalities.arrays import array_batches
from dlab.models.families import has_recurrent_layer

REPEATING_BACKENDS = ("tensorflow",)


def array_fit_arguments(
    x: Any,
    y: Any,
    validation: tuple[Any, Any],
    batch_size: int,
    shuffle: bool,
    model: keras.Model | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """``model.fit`` keyword arguments for training and validation arrays.

    The pipeline here on TensorFlow when every array is a plain, non-empty NumPy array of
    numbers; Keras's own batching of the arrays otherwise:

    - other backends, strings, empty splits;
    - inside a distribution strategy such as ``train.strategy: mirrored``, where Keras
      rebatches the dataset for its replicas (a shuffled pipeline trained there on another
      order than the default strategy's from the same seed);
    - recurrent ``model``s: lstm-imdb's epochs ran at half speed, with the same CPU time,
      in 12 of 15 epochs on the repeating pipeline against 3 of 15 from arrays (2026-11-30,
      5 processes each); a scheduling effect not yet understood, so they keep Keras's path.

    ``model`` (compiled) gives the steps per compiled call: a split repeats only when its
    batches are a whole number of calls. Given ``steps_per_epoch``, Keras runs whole calls,
    and on an endless dataset the last call of an epoch would read on into the next one.
    Otherwise, and without ``model``, each epoch starts a new pass over the finite pipeline
    (about 10 ms, a third of Keras's). ``seed`` draws the shuffled orders.
    """
    arrays = (x, y, *validation)
    if (
        keras.backend.backend() not in REPEATING_BACKENDS
        or _distributed()
        or not all(map(_plain, arrays))
        or (model is not None and has_recurrent_layer(model))
    ):
        return {"x": x, "y": y, "validation_data": validation, "batch_size": batch_size, "shuffle": shuffle}
    arguments: dict[str, Any] = {"shuffle": False}  # the pipeline shuffles (Keras warns otherwise)
    splits = (("x", (x, y), "steps_per_epoch"), ("validation_data", validation, "validation_steps"))
    for split, (inputs, targets), steps_key in splits:
        steps = math.ceil(len(inputs) / batch_size)
        repeat = model is not None and steps % model.steps_per_execution == 0
        arguments[split] = array_batches(
            inputs, targets, batch_size, shuffle=shuffle and split == "x", repeat=repeat, seed=seed
        )
        if repeat:
            arguments[steps_key] = steps
    return arguments


def _distributed() -> bool:
    """True inside a tf.distribute strategy's scope (other than the default one)."""
    import tensorflow as tf

    return tf.distribute.has_strategy()


def _plain(array: Any) -> bool:
    """A non-empty NumPy array of numbers or booleans (what tf.constant takes as it is)."""
    return isinstance(array, np.ndarray) and len(array) > 0 and array.dtype.kind in "biuf"
