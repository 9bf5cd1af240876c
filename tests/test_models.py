"""Parameter counts stated in EXPERIMENTS.md, checked by building each model (no training)."""

from __future__ import annotations

import numpy as np
import pytest

from dlab import registry
from dlab.config import resolve_config
from dlab.data import ArrayDataset

EXPECTED_PARAMS = {
    "cnn-cifar10": 122_570,
    "cnn-cifar10-sgd": 122_570,
}


def shaped_like(config) -> ArrayDataset:
    from dlab.data.cifar10 import SPEC

    x = np.zeros((2, *SPEC.image_shape), np.uint8)
    y = np.zeros((2, 1), np.uint8)
    return ArrayDataset(SPEC.name, "synthetic", None, x, y, x, y, class_names=list(SPEC.class_names))


@pytest.mark.parametrize("name, expected", sorted(EXPECTED_PARAMS.items()))
def test_parameter_count_matches_the_catalogue(name, expected):
    config = resolve_config(name)
    experiment = registry.get(config.experiment)()
    model = experiment.build_model(config, shaped_like(config))
    assert model.count_params() == expected
