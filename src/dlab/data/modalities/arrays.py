"""In-memory arrays as tf.data batches: the rows Keras would batch, gathered per batch.

Keras batches NumPy arrays ``batch_size`` rows at a time, the last batch partial, and
shuffles by drawing a new order of the rows every epoch. :func:`array_batches` gives the
same batches as a ``tf.data`` pipeline: the rows are held once (as constants in host
memory), their order is shuffled as indices and each batch is one ``tf.gather``, so the
data is not copied again into a shuffle buffer. The training loop feeds arrays through it
(:mod:`dlab.training.batches`), and :meth:`dlab.data.ArrayDataset.batches` gives any split
this way. This module imports TensorFlow only inside the function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import tensorflow as tf


def array_batches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    repeat: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """(inputs, targets) batches of the arrays: one epoch, or epoch after epoch without end.

    Every epoch is ``ceil(len(x) / batch_size)`` batches covering each row once; with
    ``shuffle`` every epoch has a new order, drawn from ``seed`` (give one: without it
    tf.data derives the seed from how many random ops the process made before, which a
    distribution strategy changes).
    """
    import tensorflow as tf

    with tf.device("/cpu:0"):  # held by the input pipeline, in host memory, as Keras holds arrays
        inputs, targets = tf.constant(x), tf.constant(y)
    order = tf.data.Dataset.range(len(x))
    if shuffle:
        order = order.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    batches = order.batch(batch_size)
    if repeat:
        batches = batches.repeat()
    return batches.map(lambda rows: (tf.gather(inputs, rows), tf.gather(targets, rows))).prefetch(
        tf.data.AUTOTUNE
    )
