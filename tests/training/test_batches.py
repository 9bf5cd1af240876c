"""Arrays fed through one repeating tf.data pipeline: Keras's batches, one iterator per fit."""

from __future__ import annotations

import numpy as np
import pytest

from dlab.data.modalities.arrays import array_batches


def epochs_of(dataset, steps: int, epochs: int) -> list[list[np.ndarray]]:
    """The first ``epochs`` epochs of ``steps`` batches each, read from one iterator (as fit does)."""
    iterator = iter(dataset)
    return [[next(iterator)[0].numpy() for _ in range(steps)] for _ in range(epochs)]


def test_unshuffled_epochs_are_keras_batches_in_order_with_a_partial_last_one():
    x = np.arange(23, dtype=np.float32).reshape(23, 1)
    y = np.arange(23)
    for epoch in epochs_of(array_batches(x, y, batch_size=5, repeat=True), steps=5, epochs=3):
        assert [len(batch) for batch in epoch] == [5, 5, 5, 5, 3]
        np.testing.assert_array_equal(np.concatenate(epoch)[:, 0], np.arange(23))


def test_shuffled_epochs_hold_every_row_once_in_a_new_order_that_the_seed_repeats():
    import keras

    x = np.arange(40, dtype=np.int32).reshape(40, 1)
    orders = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        epochs = epochs_of(array_batches(x, x, batch_size=8, shuffle=True, repeat=True), steps=5, epochs=3)
        orders.append([np.concatenate(epoch)[:, 0] for epoch in epochs])
    for order in orders[0]:
        np.testing.assert_array_equal(np.sort(order), np.arange(40))
    assert not np.array_equal(orders[0][0], orders[0][1])  # reshuffled every epoch
    assert not np.array_equal(orders[0][0], np.arange(40))
    for first, second in zip(*orders, strict=True):  # same seed, same orders
        np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("steps_per_execution, repeats", [(1, True), (5, True), (3, False)])
def test_fit_on_the_pipeline_gives_the_history_of_fit_on_the_arrays(steps_per_execution, repeats):
    """5 training batches and 1 validation batch: 3 steps per call cannot repeat (a call would
    read on into the next epoch), so that fit starts a new pass every epoch instead."""
    import keras

    from dlab.training.batches import array_fit_arguments  # here: collecting the suite must not import Keras

    rng = np.random.default_rng(0)
    x, y = rng.random((70, 4), dtype=np.float32), rng.random((70, 1), dtype=np.float32)
    x_val, y_val = x[:13], y[:13]

    def history(arguments: dict) -> dict:
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse", steps_per_execution=steps_per_execution)
        return model.fit(**arguments, epochs=4, verbose=0).history

    arrays = {"x": x, "y": y, "validation_data": (x_val, y_val), "batch_size": 16, "shuffle": False}
    compiled = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    compiled.compile(loss="mse", steps_per_execution=steps_per_execution)
    pipeline = array_fit_arguments(x, y, (x_val, y_val), 16, False, compiled)
    assert ("steps_per_epoch" in pipeline) is repeats and pipeline.get("steps_per_epoch", 5) == 5
    want, got = history(arrays), history(pipeline)
    assert set(got) == {"loss", "val_loss"}
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-6)


@pytest.mark.parametrize(
    "x",
    [np.array(["a review", "another"], dtype=object), np.zeros((0, 3), np.float32)],
    ids=["strings", "empty"],
)
def test_strings_and_empty_splits_keep_keras_array_batching(x):
    from dlab.training.batches import array_fit_arguments  # here: collecting the suite must not import Keras

    y = np.zeros(len(x), np.float32)
    arguments = array_fit_arguments(x, y, (x, y), 4, shuffle=True)
    assert arguments["x"] is x and arguments["batch_size"] == 4 and arguments["shuffle"] is True
    assert "steps_per_epoch" not in arguments


def test_recurrent_models_keep_keras_array_batching():
    import keras

    from dlab.training.batches import array_fit_arguments  # here: collecting the suite must not import Keras

    model = keras.Sequential([keras.Input((5, 2)), keras.layers.GRU(3)])
    model.compile(loss="mse")
    x, y = np.zeros((8, 5, 2), np.float32), np.zeros((8, 3), np.float32)
    arguments = array_fit_arguments(x, y, (x, y), 4, shuffle=True, model=model)
    assert arguments["x"] is x and arguments["shuffle"] is True
