"""Multi-hot rows fed to a model as sparse batches: the same numbers, a fraction of the work.

A multi-hot document vector over the 10,000 most frequent words has about 1% ones
(IMDB reviews use a hundred or two distinct words). Fed as a dense batch, the
first Dense layer multiplies all 10,000 columns, zeros included, and the batch is
copied in full every step (512 x 10,000 values). Fed as a ``tf.SparseTensor``,
Keras's Dense layer multiplies only the ones (``tf.sparse.sparse_dense_matmul`` on
TensorFlow): the same sums without the zero terms, so the
outputs agree with the dense ones to float rounding, and an epoch of mlp-imdb
takes about a third of the time (benchmarks/README.md, bench_throughput.py).

The rows become one ``SparseTensor`` of ones (read from the uint8 matrix once), which
tf.data slices into rows and batches back into one ``SparseTensor`` per batch.
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
    matrix = tf.SparseTensor(
        indices=np.stack([rows, columns], axis=1),
        values=np.ones(len(rows), dtype=np.float32),
        dense_shape=np.asarray(x.shape, dtype=np.int64),
    )
    # tf.data slices a SparseTensor row by row and batches the rows back into one: 0.12-0.14 s an
    # epoch for 25,000 IMDB-like rows here, against 0.15-0.33 s for gathering a ragged tensor's rows
    rows_and_targets = tf.data.Dataset.from_tensor_slices((matrix, y))
    if shuffle:
        rows_and_targets = rows_and_targets.shuffle(len(x), reshuffle_each_iteration=True)
    return rows_and_targets.batch(batch_size).prefetch(tf.data.AUTOTUNE)
