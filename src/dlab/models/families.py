"""The compute family of a built Keras model: which row of dlab's speed table describes it.

What dominates a training step's cost decides the fastest execution settings: a
recurrent layer's sequential loop, a convolution's kernels, an embedding lookup, or
(for everything else) dense matrix products, where the per-step host overhead is
most of the time. The family is read from the layers themselves, so an experiment
never has to declare it for ``train.steps_per_execution: auto``.
"""

from __future__ import annotations

from typing import Any

_RECURRENT = ("RNN", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "ConvLSTM")
_CONVOLUTIONAL = ("Conv",)
_EMBEDDING = ("Embedding",)
_MULTI_HOT = ("SparseInputDense",)


def _layers(model: Any) -> list[Any]:
    """Every layer, nested models included (a transfer backbone is a layer of its model)."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(_layers(layer))
    return found


def has_stateful_layer(model: Any) -> bool:
    """True when a layer of the model (nested models included) keeps state from one call to the
    next (``stateful=True`` recurrent layers): each pass over data then starts where the last one
    ended, so two passes over the same data need not agree."""
    flatten = getattr(model, "_flatten_layers", None)  # Keras's walk reaches layers a custom layer holds
    layers = list(flatten()) if callable(flatten) else _layers(model)
    return any(getattr(layer, "stateful", False) for layer in layers)


def model_family(model: Any) -> str:
    """``transfer``, ``recurrent``, ``convolutional``, ``embedding``, ``multi_hot`` or ``dense``.

    A nested model with frozen weights is a transfer backbone; otherwise the most
    expensive kind of layer present decides (recurrent over convolutional over
    embedding over dense). A dense stack that reads sparse multi-hot batches
    (:class:`~dlab.models.sparse_dense.SparseInputDense`) is ``multi_hot``: its first
    product skips the zeros, so it is timed as a family of its own.
    """
    layers = _layers(model)
    names = [type(layer).__name__ for layer in layers]
    if any(hasattr(layer, "layers") and not layer.trainable for layer in layers):
        return "transfer"
    if has_recurrent_layer(model):
        return "recurrent"
    if any(any(part in name for part in _CONVOLUTIONAL) for name in names):
        return "convolutional"
    if any(name in _EMBEDDING for name in names):
        return "embedding"
    if any(name in _MULTI_HOT for name in names):
        return "multi_hot"
    return "dense"


def has_recurrent_layer(model: Any) -> bool:
    """True when the model (nested models included) holds a recurrent layer or wrapper.

    Such a model runs a loop over time steps: called eagerly it runs op by op
    (:mod:`dlab.training.outputs`), and it keeps Keras's array batching
    (:mod:`dlab.training.batches`).
    """
    names = [type(layer).__name__ for layer in _layers(model)]
    return any(name.endswith(_RECURRENT) or name in _RECURRENT for name in names)
