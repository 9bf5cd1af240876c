"""dlab's own losses agree with the Keras losses they stand in for."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("shape", [(6, 4), (2, 5, 5, 3)])
def test_probability_sparse_crossentropy_is_keras_formula(shape):
    """PyTorch runs use it instead of Keras's kernel (which fails per pixel there): same values,
    for a batch of vectors and for a per-pixel softmax, labels with or without their last axis."""
    import keras

    from dlab.training.losses import ProbabilitySparseCrossentropy

    rng = np.random.default_rng(0)
    # away from the clipping edge, where Keras's kernels differ among themselves (TensorFlow's
    # renormalises after clipping to [eps, 1 - eps], PyTorch's does not; this loss is PyTorch's)
    probabilities = rng.uniform(0.05, 1.0, shape).astype("float32")
    labels = rng.integers(0, shape[-1], shape[:-1])
    expected = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    for y in (labels, labels[..., None]):
        got = ProbabilitySparseCrossentropy()(y, probabilities)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, rtol=1e-6)


def test_probability_sparse_crossentropy_round_trips_through_its_config():
    import keras

    from dlab.training.losses import ProbabilitySparseCrossentropy

    restored = keras.losses.deserialize(keras.losses.serialize(ProbabilitySparseCrossentropy()))
    assert (
        isinstance(restored, ProbabilitySparseCrossentropy)
        and restored.name == "sparse_categorical_crossentropy"
    )


def test_function_loss_passes_the_config_arguments_and_round_trips():
    """A loss function given with arguments (train.loss: {name: losses.py:fn, delta: 2}) is called
    with them, labels (N, 1) against predictions (N,) aligned as Keras aligns them."""
    import keras

    from dlab.training.losses import FunctionLoss

    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(8, 1)).astype("float32")
    y_pred = rng.normal(size=(8,)).astype("float32") * 3
    loss = FunctionLoss(keras.losses.huber, delta=2.0)
    expected = keras.losses.Huber(delta=2.0)(y_true[:, 0], y_pred)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loss(y_true, y_pred)), expected, rtol=1e-6)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, FunctionLoss) and restored.arguments == {"delta": 2.0}
    assert restored.name == "huber"
