"""Multi-hot rows fed to a model as sparse batches: the same numbers, a fraction of the work.

A multi-hot document vector over the 10,000 most frequent words has about 1% ones
(IMDB reviews use a hundred or two distinct words). Fed as a dense batch, the
first Dense layer multiplies all 10,000 columns, zeros included, and the batch is
copied in full every step (512 x 10,000 values). Fed as a ``tf.SparseTensor``,
Keras's Dense layer multiplies only the ones (``tf.sparse.sparse_dense_matmul`` on
TensorFlow): the same sums without the zero terms, so the
outputs agree with the dense ones to float rounding, and an epoch of mlp-imdb
takes about a third of the time (benchmarks/README.md, bench_throughput.py).

The rows are kept as one ragged tensor of column ids (read from the uint8 matrix
once); each batch gathers its rows and becomes a ``SparseTensor`` with values 1.
The model's input must be declared ``keras.Input(..., sparse=True)``: a dense
``Input`` makes Keras densify every batch again (:func:`reads_sparse_inputs`).
Such a model still accepts dense arrays (prediction, ``dlab predict``, k-fold).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


SPARSE_BACKENDS = ("tensorflow",)
"""The Keras backends that train faster on sparse batches. Torch densifies a sparse input. JAX
multiplies it as sparse (BCOO), but every batch holds another number of ones, so JAX compiles
the train step again for each batch: an mlp-imdb smoke run took 55 s instead of 6 s."""


def sparse_input_supported() -> bool:
    """True when the Keras backend of this process multiplies sparse inputs as sparse."""
    import keras

    return keras.backend.backend() in SPARSE_BACKENDS


def reads_sparse_inputs(model: keras.Model) -> bool:
    """True when the model's (single) input was declared sparse: feed it sparse batches."""
    inputs = getattr(model, "inputs", None) or []
    return len(inputs) == 1 and bool(getattr(inputs[0], "sparse", False))


def sparse_batches(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False) -> tf.data.Dataset:
    """(SparseTensor of float32 ones, targets) batches of a 2-D 0/1 matrix ``x``.

    Args:
        x: multi-hot rows (any numeric dtype; every non-zero counts as a one).
        y: the targets, one row per row of ``x`` (labels or one-hot).
        shuffle: draw a new order every epoch, as ``fit(shuffle=True)`` does for
            arrays; the order comes from TensorFlow's seed (``keras.utils.set_random_seed``).

    The batches hold the same rows in the same order as Keras's own batching of the
    arrays (unshuffled), and each batch's column ids are sorted within a row, the
    canonical order sparse kernels expect.
    """
    import tensorflow as tf

    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"sparse_batches needs a 2-D matrix of rows, got shape {x.shape}")
    ones = x.view(bool) if x.dtype == np.uint8 else x != 0  # a bool view: 6x faster to scan
    rows, columns = np.divmod(np.flatnonzero(ones), x.shape[1])  # row-major: by row, then column
    row_splits = np.searchsorted(rows, np.arange(len(x) + 1)).astype(np.int64)
    words = tf.RaggedTensor.from_row_splits(tf.constant(columns, tf.int64), tf.constant(row_splits))
    targets = tf.constant(y)
    width = x.shape[1]

    def gather(index: tf.Tensor) -> tuple[tf.SparseTensor, tf.Tensor]:
        picked = tf.gather(words, index)
        positions = tf.stack([picked.value_rowids(), picked.flat_values], axis=1)
        ones = tf.ones_like(picked.flat_values, dtype=tf.float32)
        shape = tf.stack([tf.shape(index, out_type=tf.int64)[0], tf.constant(width, tf.int64)])
        return tf.SparseTensor(positions, ones, shape), tf.gather(targets, index)

    order = tf.data.Dataset.range(len(x))
    if shuffle:
        order = order.shuffle(len(x), reshuffle_each_iteration=True)
    return order.batch(batch_size).map(gather).prefetch(tf.data.AUTOTUNE)
