"""Parameter counts stated in EXPERIMENTS.md, checked by building each model (no training)."""

from __future__ import annotations

import pytest

from dlab import registry
from dlab.config import resolve_config
from dlab.data import ArrayDataset

EXPECTED_PARAMS = {
    "cnn-cifar10": 122_570,
    "cnn-cifar10-sgd": 122_570,
    "convnet-mnist": 104_202,
    "convnet-mnist-nopool": 712_202,
    "lenet-fashion": 61_706,  # d2l's LeNet
}


def shaped_like(config) -> ArrayDataset:
    """Two synthetic samples with the config's real shapes (the loader's own twin)."""
    from dlab.data import load_dataset

    data_config = config.data.model_copy(update={"source": "synthetic", "train_samples": 2,
                                                 "validation": "test", "test_samples": 2})
    return load_dataset(data_config, seed=0)


@pytest.mark.parametrize("name, expected", sorted(EXPECTED_PARAMS.items()))
def test_parameter_count_matches_the_catalogue(name, expected):
    config = resolve_config(name)
    experiment = registry.get(config.experiment)()
    model = experiment.build_model(config, shaped_like(config))
    assert model.count_params() == expected
