"""Outputs for figures without a traced predict function: the same numbers as ``predict``."""

from __future__ import annotations

import numpy as np


def test_outputs_in_batches_match_predict_with_a_partial_last_batch():
    import keras

    from dlab.training.outputs import outputs_in_batches  # here: collecting the suite must not import Keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(3)])
    x = np.random.default_rng(0).random((300, 6), dtype="float32")
    ours = outputs_in_batches(model, x, batch_size=32)  # small samples: 256 + 44
    assert ours.shape == (300, 3) and isinstance(ours, np.ndarray)
    np.testing.assert_allclose(ours, model.predict(x, batch_size=32, verbose=0), rtol=1e-5, atol=1e-6)
    assert outputs_in_batches(model, x[:0], batch_size=32).shape == (0, 3)


def test_a_call_takes_up_to_256_small_samples_and_never_fewer_than_the_training_batch():
    from dlab.training.outputs import call_batch_size

    assert call_batch_size(32, np.zeros((1000, 28, 28, 1))) == 256  # MNIST: 32 calls became 4
    assert call_batch_size(32, np.zeros((10, 32, 32, 3))) == 256
    assert call_batch_size(512, np.zeros((10, 10_000))) == 512  # the training batch is never cut
    assert call_batch_size(32, np.zeros((10, 224, 224, 3))) == 32  # large images: the training batch
    assert call_batch_size(0, np.zeros((10, 224, 224, 3))) == 6  # no batch size: 2**20 input numbers


def test_recurrent_models_go_through_predict_with_the_same_outputs():
    import keras

    from dlab.training.outputs import outputs_in_batches  # here: collecting the suite must not import Keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((12,), dtype="int32"),
            keras.layers.Embedding(50, 4),
            keras.layers.LSTM(5),
            keras.layers.Dense(2),
        ]
    )
    x = np.random.default_rng(0).integers(0, 50, (40, 12)).astype("int32")
    ours = outputs_in_batches(model, x, batch_size=16)
    assert ours.shape == (40, 2) and isinstance(ours, np.ndarray)
    eager = np.concatenate([keras.ops.convert_to_numpy(model(x[i : i + 16])) for i in range(0, 40, 16)])
    np.testing.assert_allclose(ours, eager, rtol=1e-5, atol=1e-6)
    assert outputs_in_batches(model, x[:0], batch_size=16).shape == (0, 2)


def test_recurrent_layers_are_found_in_wrappers_and_nested_models():
    import keras
    from keras import layers

    from dlab.models.families import has_recurrent_layer

    inner = keras.Sequential([keras.Input((7, 3)), layers.SimpleRNN(2)])
    recurrent = {
        "lstm": keras.Sequential([keras.Input((7, 3)), layers.LSTM(2)]),
        "bidirectional gru": keras.Sequential([keras.Input((7, 3)), layers.Bidirectional(layers.GRU(2))]),
        "nested model": keras.Sequential([keras.Input((7, 3)), inner, layers.Dense(1)]),
    }
    not_recurrent = {
        "conv1d": keras.Sequential([keras.Input((7, 3)), layers.Conv1D(2, 3), layers.GlobalMaxPooling1D()]),
        "time distributed dense": keras.Sequential(
            [keras.Input((7, 3)), layers.TimeDistributed(layers.Dense(2))]
        ),
    }
    assert all(has_recurrent_layer(model) for model in recurrent.values())
    assert not any(has_recurrent_layer(model) for model in not_recurrent.values())
