"""Multi-hot rows as sparse batches: the same rows, the same numbers, and the same model outputs."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from dlab.data.modalities.text import multi_hot

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None, reason="sparse batches are tf.data pipelines"
)


@pytest.fixture(scope="module")
def tf():
    """TensorFlow, imported when a test here runs (collecting the suite must not start it)."""
    import tensorflow

    return tensorflow


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


def documents(count: int, seed: int = 0) -> list[list[int]]:
    """Word-index documents as Keras loads them: a start mark, repeats, one empty document."""
    rng = np.random.default_rng(seed)
    docs = [[1, *rng.integers(2, 60, rng.integers(1, 30)).tolist()] for _ in range(count)]
    docs[3] = []  # a document with no word in the vocabulary: an all-zero row
    return docs


def test_unshuffled_batches_hold_the_arrays_rows_in_order_as_ones(tf):
    from dlab.data.modalities.sparse_rows import sparse_batches

    x = multi_hot(documents(23), 50)
    y = np.arange(23).reshape(-1, 1)
    batches = list(sparse_batches(x, y, batch_size=8))
    assert [len(labels) for _, labels in batches] == [8, 8, 7]  # the last batch is short, as Keras's
    dense = np.concatenate([tf.sparse.to_dense(rows).numpy() for rows, _ in batches])
    np.testing.assert_array_equal(dense, x.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([labels for _, labels in batches]), y)
    rows, _ = batches[0]
    assert rows.dtype == tf.float32 and set(rows.values.numpy().tolist()) == {1.0}
    assert rows.dense_shape.numpy().tolist() == [8, 50]
    positions = rows.indices.numpy()  # canonical order: by row, then by column
    assert np.all(np.diff(positions[:, 0] * 50 + positions[:, 1]) > 0)


def test_shuffled_batches_redraw_the_order_every_epoch_and_keep_rows_with_their_labels(tf):
    from dlab.data.modalities.sparse_rows import sparse_batches

    x = multi_hot(documents(40, seed=1), 60)
    y = np.arange(40).reshape(-1, 1)
    tf.random.set_seed(5)
    dataset = sparse_batches(x, y, batch_size=16, shuffle=True)
    orders = []
    for _ in range(2):
        labels, rows = [], []
        for sparse, batch_labels in dataset:
            rows.append(tf.sparse.to_dense(sparse).numpy())
            labels.append(batch_labels.numpy().ravel())
        order = np.concatenate(labels)
        np.testing.assert_array_equal(np.concatenate(rows), x[order].astype(np.float32))
        assert sorted(order.tolist()) == list(range(40))
        orders.append(order.tolist())
    assert orders[0] != orders[1]


def test_a_sparse_input_model_trains_like_the_dense_one_to_float_rounding(keras):
    from dlab.data.modalities.sparse_rows import reads_sparse_inputs, sparse_batches
    from dlab.models.sparse_dense import SparseInputDense

    x = multi_hot(documents(96, seed=2), 80)
    y = np.random.default_rng(3).integers(0, 2, (96, 1)).astype(np.float32)

    def model(sparse: bool):
        keras.utils.set_random_seed(11)
        inputs = keras.Input((80,), sparse=sparse)
        hidden = (SparseInputDense if sparse else keras.layers.Dense)(8, activation="relu")(inputs)
        made = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
        made.compile(optimizer="rmsprop", loss="binary_crossentropy", steps_per_execution=2)
        return made

    sparse, dense = model(True), model(False)
    assert reads_sparse_inputs(sparse) and not reads_sparse_inputs(dense)
    sparse_loss = sparse.fit(sparse_batches(x, y, 32), epochs=3, verbose=0).history["loss"]
    dense_loss = dense.fit(x, y, batch_size=32, shuffle=False, epochs=3, verbose=0).history["loss"]
    np.testing.assert_allclose(sparse_loss, dense_loss, rtol=1e-5)
    for first, second in zip(sparse.get_weights(), dense.get_weights(), strict=True):
        np.testing.assert_allclose(first, second, rtol=1e-4, atol=1e-6)
    # a sparse-input model still reads dense rows (prediction, dlab predict, k-fold)
    predicted = sparse.predict(x, verbose=0)
    np.testing.assert_allclose(predicted, dense.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def test_sparse_input_dense_multiplies_as_sparse_and_saves_as_itself(tmp_path, tf, keras):
    from dlab.models.sparse_dense import SparseInputDense

    """The TensorFlow sparse product, not Keras's embedding lookup, and the same numbers as Dense."""
    x = multi_hot(documents(64, seed=4), 40).astype(np.float32)
    layer = SparseInputDense(5, activation="tanh", kernel_regularizer="l2")
    dense = keras.layers.Dense(5, activation="tanh")
    layer.build((None, 40))
    dense.build((None, 40))
    dense.set_weights(layer.get_weights())
    sparse_x = tf.sparse.from_dense(x)
    graph = tf.function(lambda batch: layer(batch)).get_concrete_function(sparse_x).graph
    operations = {operation.type for operation in graph.get_operations()}
    assert "SparseTensorDenseMatMul" in operations and "SparseSegmentSum" not in operations
    np.testing.assert_allclose(layer(sparse_x), dense(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(layer(x), dense(x), rtol=1e-6, atol=1e-6)  # dense rows: Dense's path
    model = keras.Sequential([keras.Input((40,), sparse=True), layer])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded.layers[0]) is SparseInputDense
    np.testing.assert_allclose(loaded.predict(x, verbose=0), dense(x), rtol=1e-6, atol=1e-6)


def test_sparse_batches_refuse_anything_but_a_matrix(tf):
    from dlab.data.modalities.sparse_rows import sparse_batches

    with pytest.raises(ValueError, match="2-D matrix"):
        sparse_batches(np.zeros(5), np.zeros(5), 2)
