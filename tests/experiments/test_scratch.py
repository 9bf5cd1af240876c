"""The NumPy models: hand-written gradients against numerical ones, and what they learn."""

from __future__ import annotations

import numpy as np
import pytest

from dlab.models.numpy_models import (
    LinearRegression,
    SigmoidNeuron,
    SoftmaxLayer,
    TwoLayerNet,
    gradient_descent,
    numerical_gradients,
    sigmoid,
    softmax,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(7, 3))


def random_two_layer(activation: str) -> TwoLayerNet:
    rng = np.random.default_rng(1)
    params = {
        "W1": rng.normal(size=(3, 4)),
        "b1": rng.normal(size=4),
        "W2": rng.normal(size=(4, 1)),
        "b2": rng.normal(size=1),
    }
    return TwoLayerNet(params, activation)


MODELS = {
    "sigmoid neuron": (lambda: SigmoidNeuron(3, RNG.normal(size=3), 0.3), RNG.integers(0, 2, 7)),
    "softmax": (lambda: SoftmaxLayer(RNG.normal(size=(3, 4)), RNG.normal(size=4)), RNG.integers(0, 4, 7)),
    "sigmoid then softmax": (
        lambda: SoftmaxLayer(RNG.normal(size=(3, 4)), RNG.normal(size=4), sigmoid_first=True),
        RNG.integers(0, 4, 7),
    ),
    "2-layer sigmoid": (lambda: random_two_layer("sigmoid"), RNG.integers(0, 2, 7)),
    "2-layer tanh": (lambda: random_two_layer("tanh"), RNG.integers(0, 2, 7)),
    "linear regression": (lambda: _linear(), RNG.normal(size=7) * 3),
}


def _linear() -> LinearRegression:
    model = LinearRegression(3)
    model.params["w"][:] = [0.5, -1.0, 2.0]
    model.params["b"] = np.array(0.7)
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_hand_written_gradients_match_numerical_ones(name):
    make, y = MODELS[name]
    model = make()
    _, analytic = model.gradients(X, y)
    numeric = numerical_gradients(model, X, y)
    assert set(analytic) == set(model.params)
    for param in model.params:
        assert analytic[param].shape == model.params[param].shape, param
        np.testing.assert_allclose(
            analytic[param], numeric[param], rtol=1e-5, atol=1e-7, err_msg=f"{name}: d loss / d {param}"
        )


def test_stable_building_blocks():
    assert np.all(np.isfinite(sigmoid(np.array([-1000.0, 0.0, 1000.0]))))
    np.testing.assert_allclose(softmax(np.array([[1000.0, 1000.0]])), [[0.5, 0.5]])


AND_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)


def test_perceptron_learns_and_from_zero_init_with_a_monotone_cost():
    model = SigmoidNeuron(2, np.zeros(2), 0.0)
    history = gradient_descent(model, AND_X, np.array([0, 0, 0, 1]), epochs=70, learning_rate=1.0)
    cost = history["loss"]
    assert all(later < earlier for earlier, later in zip(cost, cost[1:], strict=False))
    assert list((model.predict(AND_X) >= 0.5).astype(int)) == [0, 0, 0, 1]
    assert cost[0] == pytest.approx(np.log(2))  # p = 0.5 everywhere before the first update


def test_minibatches_cover_every_sample_once_per_epoch():
    model = LinearRegression(1)
    x = np.linspace(-1, 1, 10).reshape(-1, 1)
    y = 3 * x[:, 0] + 1
    history = gradient_descent(
        model,
        x,
        y,
        epochs=300,
        learning_rate=0.1,
        batch_size=3,
        rng=np.random.default_rng(0),
        validation=(x, y),
    )
    assert set(history) == {"loss", "r2", "val_loss", "val_r2"}
    assert model.params["w"][0] == pytest.approx(3, abs=1e-3)
    assert model.params["b"] == pytest.approx(1, abs=1e-3)
