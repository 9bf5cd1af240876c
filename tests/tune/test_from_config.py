"""dlab tune CONFIG --space: SPEC parsing, the tuner config written for a runnable config."""

from __future__ import annotations

import pytest
import yaml

from dlab.errors import ConfigError
from dlab.tune.from_config import anchored, parse_space, tuner_config, write_tuner_config


def test_every_spec_form_becomes_a_search_space_entry():
    space = parse_space(
        [
            "model.units=choice:16,32,64",
            "model.activation=choice:relu,tanh",
            "train.optimizer.learning_rate=log:1e-4..1e-2",
            "model.dropout=float:0..0.5",
            "model.layers=int:1..3",
            "model.filters=int:16..64:16",
            "model.batchnorm=bool",
        ]
    )
    assert space["model.units"] == {"type": "choice", "values": [16, 32, 64]}
    assert space["model.activation"] == {"type": "choice", "values": ["relu", "tanh"]}
    assert space["train.optimizer.learning_rate"] == {
        "type": "float",
        "min": 1e-4,
        "max": 1e-2,
        "sampling": "log",
    }
    assert space["model.dropout"] == {"type": "float", "min": 0.0, "max": 0.5}
    assert space["model.layers"] == {"type": "int", "min": 1, "max": 3}
    assert space["model.filters"] == {"type": "int", "min": 16, "max": 64, "step": 16}
    assert space["model.batchnorm"] == {"type": "boolean"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("model.units", "write KEY=SPEC"),
        ("model.units=range:1..3", "not a SPEC dlab knows"),
        ("model.units=int:a..3", "'a' is not an integer"),
        ("model.units=choice:", "not a SPEC dlab knows"),
    ],
)
def test_a_bad_spec_says_what_to_write(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_space([spec])


def test_a_key_given_twice_is_refused():
    with pytest.raises(ConfigError, match="given twice"):
        parse_space(["model.units=choice:1,2", "model.units=choice:3,4"])


def test_the_tuner_config_targets_the_configs_experiment_and_keeps_its_settings():
    data = {
        "description": "d",
        "data": {"dataset": "csv", "path": "x.csv", "target": "y"},
        "model": {"build": "models.py:build", "units": 8},
        "train": {"epochs": 3},
        "reference": {"test_accuracy": {"value": 0.9}},
    }
    tuned = tuner_config(data, parse_space(["model.units=choice:8,16"]), {"objective": "val_accuracy"})
    assert tuned["experiment"] == "keras_tuner"
    assert tuned["model"]["target"] == "builder"  # model.build without experiment: the builder
    assert tuned["model"]["base_model"] == {"build": "models.py:build", "units": 8}
    assert tuned["model"]["objective"] == "val_accuracy" and "algorithm" not in tuned["model"]
    assert tuned["data"]["validation"] == 0.2  # never tuned on the test split
    assert "reference" not in tuned and tuned["train"] == {"epochs": 3}


def test_a_tuner_config_cannot_be_given_a_space():
    with pytest.raises(ConfigError, match="tuner config already"):
        tuner_config({"experiment": "keras_tuner", "model": {}}, {}, {})


def test_a_model_file_beside_the_config_is_named_by_its_absolute_path(tmp_path):
    (tmp_path / "models.py").write_text("def build():\n    pass\n")
    data = anchored({"model": {"build": "models.py:build"}}, tmp_path)
    assert data["model"]["build"] == f"{(tmp_path / 'models.py').resolve()}:build"
    assert anchored({"model": {"build": "pkg.nets:build"}}, tmp_path)["model"]["build"] == "pkg.nets:build"


def test_one_search_is_one_file_and_a_changed_search_another(tmp_path):
    first = write_tuner_config({"experiment": "keras_tuner", "seed": 1}, tmp_path, "tune-x")
    again = write_tuner_config({"experiment": "keras_tuner", "seed": 1}, tmp_path, "tune-x")
    other = write_tuner_config({"experiment": "keras_tuner", "seed": 2}, tmp_path, "tune-x")
    assert first == again != other
    assert yaml.safe_load(first.read_text())["name"] == "tune-x"
    assert yaml.safe_load(other.read_text())["seed"] == 2 and yaml.safe_load(first.read_text())["seed"] == 1
