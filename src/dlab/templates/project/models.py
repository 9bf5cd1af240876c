"""Your models: plain functions that return a ``keras.Model``.

A config names one with ``model.build: models.py:FUNCTION``; the config's other ``model``
keys are passed to it as keyword arguments, and so is what the data says, for each of
these parameters the function declares:

- ``input_shape``: the shape of one example (a tuple, without the batch dimension);
- ``num_classes``: the number of classes (None for regression);
- ``task``: ``"classification"`` or ``"regression"``.

dlab compiles and trains the model with the config's ``train`` settings, so return it
uncompiled.
"""

import keras


def build_mlp(input_shape, num_classes, task, units=64, layers=2, dropout=0.0):
    """A dense network: ``layers`` hidden layers of ``units`` ReLUs, then one output layer.

    Classification gets one logit per class (train with ``from_logits: true``); regression
    gets one linear output.
    """
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for _ in range(layers):
        x = keras.layers.Dense(units, activation="relu")(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(1 if task == "regression" else num_classes)(x)
    return keras.Model(inputs, outputs)
