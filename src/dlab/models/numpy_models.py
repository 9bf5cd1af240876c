"""Neural networks written out in NumPy: forward pass, loss and gradients by hand.

This is the maths of a neuron with nothing hidden: each model spells out its
forward pass, its loss and the gradient of that loss with respect to every
parameter, and :func:`gradient_descent` is the whole training loop. The tests
check every hand-written gradient against :func:`numerical_gradients` (central
differences), which is how one convinces oneself that backpropagation is right.

Conventions follow Keras so that the run directory reads the same: ``loss`` in
the history is the cost computed during the epoch, before that epoch's update
(for full-batch training: the cost of the weights the epoch started with);
``val_*`` is measured after the epoch's updates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Params = dict[str, np.ndarray]
History = dict[str, list[float]]

_EPS = 1e-12


# --------------------------------------------------------------------------- building blocks


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, computed without overflow for large |z|."""
    out = np.empty_like(z, dtype=np.float64)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum for numerical stability."""
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def binary_crossentropy(p: np.ndarray, y: np.ndarray) -> float:
    """Mean of -[y log p + (1 - y) log(1 - p)]."""
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def categorical_crossentropy(p: np.ndarray, one_hot: np.ndarray) -> float:
    """Mean over rows of -sum_k y_k log p_k."""
    return float(-np.mean(np.sum(one_hot * np.log(np.clip(p, _EPS, 1.0)), axis=1)))


ACTIVATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    # name: (activation of z, its derivative expressed through the activation a)
    "sigmoid": (sigmoid, lambda a: a * (1 - a)),
    "tanh": (np.tanh, lambda a: 1 - a**2),
}


# --------------------------------------------------------------------------- models


class ScratchModel:
    """A model with named NumPy parameters and hand-written gradients.

    Subclasses implement ``predict`` (forward pass), ``loss`` and ``gradients``
    (forward and backward pass); ``metrics`` adds e.g. accuracy.
    """

    loss_name = ""
    params: Params

    def predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def loss(self, outputs: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, Params]:
        """Forward and backward pass: the outputs and d(loss)/d(param) for every param."""
        raise NotImplementedError

    def metrics(self, outputs: np.ndarray, y: np.ndarray) -> dict[str, float]:
        return {}

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        outputs = self.predict(x)
        return {"loss": self.loss(outputs, y), **self.metrics(outputs, y)}


def _binary_accuracy(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"accuracy": float(np.mean((p >= 0.5) == (y >= 0.5)))}


class SigmoidNeuron(ScratchModel):
    """One neuron: p = sigmoid(x . w + b), binary cross-entropy. Logistic regression."""

    loss_name = "binary_crossentropy"

    def __init__(self, n_features: int, weights: np.ndarray, bias: float) -> None:
        self.params = {
            "w": np.asarray(weights, dtype=np.float64).reshape(n_features),
            "b": np.array(float(bias)),
        }

    def predict(self, x):
        return sigmoid(x @ self.params["w"] + self.params["b"])

    def loss(self, outputs, y):
        return binary_crossentropy(outputs, y)

    def gradients(self, x, y):
        p = self.predict(x)
        error = (p - y) / len(x)  # d(mean BCE)/dz for a sigmoid output
        return p, {"w": x.T @ error, "b": np.array(error.sum())}

    def metrics(self, outputs, y):
        return _binary_accuracy(outputs, y)


class SoftmaxLayer(ScratchModel):
    """One dense layer into softmax, categorical cross-entropy; optionally a sigmoid first.

    With ``sigmoid_first`` the logits are squashed into (0, 1) before the softmax,
    which caps how confident the model can be: the lab report's lesson.
    """

    loss_name = "categorical_crossentropy"

    def __init__(self, weights: np.ndarray, bias: np.ndarray, sigmoid_first: bool = False) -> None:
        self.params = {"W": np.asarray(weights, dtype=np.float64), "b": np.asarray(bias, dtype=np.float64)}
        self.sigmoid_first = sigmoid_first

    def _forward(self, x):
        z = x @ self.params["W"] + self.params["b"]
        a = sigmoid(z) if self.sigmoid_first else z
        return a, softmax(a)

    def predict(self, x):
        return self._forward(x)[1]

    def loss(self, outputs, y):
        return categorical_crossentropy(outputs, self._one_hot(y))

    def _one_hot(self, y):
        return np.eye(self.params["b"].shape[0])[np.asarray(y, dtype=int)]

    def gradients(self, x, y):
        a, p = self._forward(x)
        d_a = (p - self._one_hot(y)) / len(x)  # softmax + cross-entropy
        d_z = d_a * a * (1 - a) if self.sigmoid_first else d_a
        return p, {"W": x.T @ d_z, "b": d_z.sum(axis=0)}

    def metrics(self, outputs, y):
        return {"accuracy": float(np.mean(outputs.argmax(axis=1) == y))}


class TwoLayerNet(ScratchModel):
    """Input -> Dense(hidden, sigmoid|tanh) -> Dense(1, sigmoid), binary cross-entropy."""

    loss_name = "binary_crossentropy"

    def __init__(self, params: Params, hidden_activation: str = "sigmoid") -> None:
        self.params = {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}
        self.activation, self.activation_slope = ACTIVATIONS[hidden_activation]

    def _forward(self, x):
        hidden = self.activation(x @ self.params["W1"] + self.params["b1"])
        p = sigmoid(hidden @ self.params["W2"] + self.params["b2"]).reshape(-1)
        return hidden, p

    def predict(self, x):
        return self._forward(x)[1]

    def loss(self, outputs, y):
        return binary_crossentropy(outputs, y)

    def gradients(self, x, y):
        hidden, p = self._forward(x)
        d_out = ((p - y) / len(x)).reshape(-1, 1)  # sigmoid output + BCE
        d_hidden = (d_out @ self.params["W2"].T) * self.activation_slope(hidden)
        return p, {
            "W2": hidden.T @ d_out,
            "b2": d_out.sum(axis=0),
            "W1": x.T @ d_hidden,
            "b1": d_hidden.sum(axis=0),
        }

    def metrics(self, outputs, y):
        return _binary_accuracy(outputs, y)


class LinearRegression(ScratchModel):
    """y_hat = x . w + b with mean squared error."""

    loss_name = "mean_squared_error"

    def __init__(self, n_features: int) -> None:
        self.params = {"w": np.zeros(n_features), "b": np.array(0.0)}

    def predict(self, x):
        return x @ self.params["w"] + self.params["b"]

    def loss(self, outputs, y):
        return float(np.mean((outputs - y) ** 2))

    def gradients(self, x, y):
        y_hat = self.predict(x)
        error = 2 * (y_hat - y) / len(x)
        return y_hat, {"w": x.T @ error, "b": np.array(error.sum())}

    def metrics(self, outputs, y):
        total = float(np.sum((y - y.mean()) ** 2))
        return {"r2": 1 - float(np.sum((y - outputs) ** 2)) / total if total else 0.0}


# --------------------------------------------------------------------------- training


def gradient_descent(
    model: ScratchModel,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    learning_rate: float,
    batch_size: int | None = None,
    rng: np.random.Generator | None = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    history: History | None = None,
    on_batch_end: Callable[..., None] | None = None,
    stop_after_epoch: Callable[[int], bool] | None = None,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> History:
    """Train ``model`` in place: ``param -= learning_rate * gradient`` for every batch.

    Args:
        batch_size: None for full-batch gradient descent (one update per epoch);
            otherwise mini-batches in an order shuffled by ``rng`` each epoch.
        validation: ``(x_val, y_val)`` evaluated after each epoch as ``val_*``.
        history: the dict to fill (the caller keeps the finished epochs if
            training raises); a new one by default.
        on_batch_end: called as ``on_batch_end(loss=..., epoch=..., batch=...)`` (keywords:
            the batch loss, epoch and batch counted from 1) after each update; it may raise
            to stop training (a stop signal, a NaN loss).
        stop_after_epoch: called with the finished epoch (from 1); True ends training.
        on_epoch_end: called with the finished epoch (from 1) and its values (to print them).

    Returns:
        Per-epoch history: ``loss`` and the model's metrics (averaged over the
        epoch's batches, before each batch's update), and ``val_*`` if asked.
    """
    rng = rng or np.random.default_rng(0)
    history = {} if history is None else history
    n = len(x)
    size = batch_size or n
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n) if size < n else np.arange(n)
        totals: dict[str, float] = {}
        for start in range(0, n, size):
            batch = order[start : start + size]
            outputs, grads = model.gradients(x[batch], y[batch])
            values = {"loss": model.loss(outputs, y[batch]), **model.metrics(outputs, y[batch])}
            for key, value in values.items():
                totals[key] = totals.get(key, 0.0) + value * len(batch)
            for name, grad in grads.items():
                model.params[name] -= learning_rate * grad
            if on_batch_end is not None:
                on_batch_end(loss=values["loss"], epoch=epoch, batch=start // size + 1)
        epoch_values = {key: total / n for key, total in totals.items()}
        if validation is not None:
            epoch_values.update({f"val_{key}": value for key, value in model.evaluate(*validation).items()})
        for key, value in epoch_values.items():  # all columns at once: a whole epoch or none
            history.setdefault(key, []).append(value)
        if on_epoch_end is not None:
            on_epoch_end(epoch, epoch_values)
        if stop_after_epoch is not None and stop_after_epoch(epoch):
            break
    return history


def numerical_gradients(model: ScratchModel, x: np.ndarray, y: np.ndarray, epsilon: float = 1e-6) -> Params:
    """Central-difference estimate of d(loss)/d(param) for every parameter element."""
    estimates: Params = {}
    for name, param in model.params.items():
        grad = np.zeros_like(param, dtype=np.float64)
        flat_param, flat_grad = param.reshape(-1), grad.reshape(-1)
        for i in range(flat_param.size):
            original = flat_param[i]
            flat_param[i] = original + epsilon
            plus = model.loss(model.predict(x), y)
            flat_param[i] = original - epsilon
            minus = model.loss(model.predict(x), y)
            flat_param[i] = original
            flat_grad[i] = (plus - minus) / (2 * epsilon)
        estimates[name] = grad
    return estimates
