"""Train one smoke config for the backend parity test (run as a subprocess; KERAS_BACKEND is set).

Usage: python backend_parity_worker.py CONFIG WEIGHTS save|load EPOCHS [FLOATX]

``save`` writes the freshly built model's initial weights, ``load`` starts from them:
the backends draw initial weights from different random generators, so parity of the
math is tested from the same starting point. Dropout is switched off (its masks come
from the backend's generator too) and batches are not shuffled. Prints the history as JSON.
``FLOATX`` (default float32) is Keras's float type for the weights and the math: float64
separates a difference in the math from float32 rounding done in another order.

The model is trained on what the experiment's own ``run`` trains it on: for transfer in
``model.mode=features`` that is the head on the frozen base's features (its
``feature_dataset``), and the base's weights (random in --smoke) travel with the head's.
"""

from __future__ import annotations

import json
import sys


def main(name: str, weights: str, mode: str, epochs: int, floatx: str = "float32") -> None:
    import keras

    keras.config.set_floatx(floatx)

    from dlab.framework import registry
    from dlab.framework.factory import resolve_config
    from dlab.training.compile import compile_model
    from dlab.training.fit import fit_inputs, steps_per_epoch

    config = resolve_config(name, flags={}, sets=["train.shuffle=false"], smoke=True)
    experiment = registry.get(config.experiment)()
    keras.utils.set_random_seed(config.seed)
    data = experiment.load_data(config)
    model = experiment.prepare(config, data)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    extractor = getattr(experiment, "extractor", None)  # transfer features: the frozen base
    models = {weights: model}
    if extractor is not None:
        models[weights.replace(".weights.h5", ".extractor.weights.h5")] = extractor
    for path, part in models.items():
        if mode == "save":
            part.save_weights(path)
        else:
            part.load_weights(path)
    if extractor is not None:
        data, _ = experiment.feature_dataset(data, config.train.batch_size)
    compile_model(model, config.train, steps_per_epoch(data, config.train), data.num_classes)
    fit_arguments, _ = fit_inputs(data, config.train)
    history = model.fit(**fit_arguments, epochs=epochs, verbose=0)
    print(json.dumps({key: [float(value) for value in values] for key, values in history.history.items()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), *sys.argv[5:])
