"""Stateful character models: resetting their state, and greedy generation as d2l's ``predict_ch8``.

This module imports Keras only inside the functions that need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dlab.data.modalities.characters import decode, encode, preprocess

if TYPE_CHECKING:
    import keras


def reset_states(model: keras.Model) -> None:
    """Zero the hidden state of every stateful recurrent layer of ``model``."""
    for layer in model.layers:
        if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
            layer.reset_state()


def stateful_layer_options(layer: str, stateful: bool) -> dict[str, object]:
    """Extra arguments for a recurrent layer named ``layer`` (``GRU``, ``LSTM``, ``SimpleRNN``).

    On PyTorch, Keras 3.15's GRU and LSTM hand a stateful layer's state variable straight to
    their fused loop (``keras/src/backend/torch/rnn.py``, the CPU fallback included), then
    overwrite the variable in place at the end of the forward pass, so ``backward()`` finds a
    tensor it saved modified and fails (keras-team/keras#23462, fixed by #23464 after 3.15.1).
    ``use_cudnn=False`` takes Keras's generic loop, which copies the state first; the math is
    the same recurrence, and PyTorch on the CPU runs a Python loop either way. Elsewhere the
    layer keeps Keras's default (cuDNN on a TensorFlow GPU).
    """
    import keras

    if stateful and layer in ("GRU", "LSTM") and keras.backend.backend() == "torch":
        return {"use_cudnn": False}
    return {}


def state_resetter() -> keras.callbacks.Callback:
    """A callback that starts every epoch, and every validation pass, from a zero state."""
    import keras

    class ResetStates(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            reset_states(self.model)

        def on_test_begin(self, logs=None):
            reset_states(self.model)

    return ResetStates()


def generate(step_model: keras.Model, prefix: str, count: int) -> str:
    """Greedy generation as d2l's ``predict_ch8``: read the prefix, then emit ``count`` characters.

    Args:
        step_model: a stateful model with batch size 1 and any sequence length that maps
            token ids (1, T) to next-token logits (1, T, vocabulary); its state carries
            the prefix forward so each new character costs one step.
        prefix: text to start from (preprocessed here).
        count: how many characters to predict after it.

    Returns:
        The prefix (preprocessed) followed by the ``count`` predicted characters.
    """
    text = preprocess(prefix) or " "
    ids = encode(text)
    reset_states(step_model)
    logits = _next_logits(step_model, ids[None, :])
    predicted: list[int] = []
    for _ in range(count):
        token = int(logits[0, -1].argmax())
        predicted.append(token)
        logits = _next_logits(step_model, np.array([[token]], dtype=np.int32))
    return text + decode(predicted)


def _next_logits(step_model: keras.Model, ids: np.ndarray) -> np.ndarray:
    """One call of the step model, as NumPy on every backend.

    ``np.asarray`` of the output works on TensorFlow and JAX, but a PyTorch output still
    carries its autograd graph and refuses; ``keras.ops.convert_to_numpy`` detaches it.
    """
    import keras

    return keras.ops.convert_to_numpy(step_model(ids, training=False))
