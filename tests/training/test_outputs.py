"""Outputs for figures without a traced predict function: the same numbers as ``predict``."""

from __future__ import annotations

import numpy as np

from dlab.training.outputs import outputs_in_batches


def test_outputs_in_batches_match_predict_with_a_partial_last_batch():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(3)])
    x = np.random.default_rng(0).random((70, 6), dtype="float32")
    ours = outputs_in_batches(model, x, batch_size=32)  # 32 + 32 + 6
    assert ours.shape == (70, 3) and isinstance(ours, np.ndarray)
    np.testing.assert_allclose(ours, model.predict(x, batch_size=32, verbose=0), rtol=1e-5, atol=1e-6)
    assert outputs_in_batches(model, x[:0], batch_size=32).shape == (0, 3)
