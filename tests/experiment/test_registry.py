"""The experiment registry: lookup, suggestions, duplicates."""

from __future__ import annotations

import pytest

from dlab.config import config_names
from dlab.errors import ConfigError
from dlab.framework import registry
from dlab.framework.base import Experiment
from dlab.framework.factory import resolve_config


def test_lookup_returns_the_registered_class():
    from dlab.framework.recipes import KerasExperiment  # here: collecting the suite must not import Keras

    experiment = registry.get("convnet")
    assert issubclass(experiment, KerasExperiment)
    assert experiment.name == "convnet"
    assert experiment.family


def test_unknown_name_lists_close_matches():
    with pytest.raises(ConfigError) as caught:
        registry.get("convne")
    assert "Did you mean 'convnet'" in str(caught.value)


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(registry.DuplicateExperimentError, match="registered twice"):

        @registry.register("convnet")
        class Impostor(Experiment):
            pass

    assert registry.get("convnet").__name__ == "ConvNet"


def test_every_packaged_config_names_a_registered_experiment():
    for name in config_names():
        assert resolve_config(name).experiment in registry.names()
