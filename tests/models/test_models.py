"""Parameter counts stated in docs/experiments.md, checked by building each model (no training)."""

from __future__ import annotations

import pytest

from dlab.framework import registry
from dlab.framework.factory import resolve_config

EXPECTED_PARAMS = {
    "cnn-cifar10": 122_570,
    "cnn-cifar10-sgd": 122_570,
    "convnet-mnist": 104_202,
    "convnet-mnist-nopool": 712_202,
    "lenet-fashion": 61_706,  # d2l's LeNet
    "mlp-imdb-final": 648_449,
    "lstm-imdb": 76_051,
    "autoencoder-fraud": 1_168,
}


# A few synthetic samples with each config's real shapes are enough to build its model.
TINY_DATA = ["data.source=synthetic", "data.train_samples=2", "data.test_samples=2", "data.validation=test"]
DATA_FOR = {
    # the autoencoder holds out a validation fraction that needs frauds in it
    "autoencoder-fraud": [
        "data.source=synthetic",
        "data.samples=3000",
        "model.threshold.fallback=percentile",
    ],
}


def shaped_like(name: str):
    """The config, and synthetic data with its real shapes, encoded by its experiment."""
    config = resolve_config(name, sets=DATA_FOR.get(name, TINY_DATA))
    return config, registry.get(config.experiment)().load_data(config)


@pytest.mark.parametrize("name, expected", sorted(EXPECTED_PARAMS.items()))
def test_parameter_count_matches_the_catalogue(name, expected):
    config, data = shaped_like(name)
    model = registry.get(config.experiment)().build_model(config, data)
    assert model.count_params() == expected
