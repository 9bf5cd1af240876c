"""Config loading, extends, the override order, and every bad-input message."""

from __future__ import annotations

import pytest

from dlab.config import parse_set
from dlab.errors import ConfigError
from dlab.framework.factory import resolve_config


def write(path, text):
    path.write_text(text)
    return path


def test_packaged_config_resolves_with_defaults_and_typed_model():
    config = resolve_config("cnn-cifar10")
    assert config.name == "cnn-cifar10"
    assert config.experiment == "convnet"
    assert config.train.epochs == 10 and config.train.batch_size == 32
    assert config.train.optimizer.name == "adam"
    assert config.model.filters == [32, 64, 64]
    assert config.data.validation == "test"
    assert config.reference["test_accuracy"].value == pytest.approx(0.714)


def test_variant_extends_base_and_is_named_after_itself():
    config = resolve_config("cnn-cifar10-sgd")
    assert config.name == "cnn-cifar10-sgd"
    assert config.train.optimizer.name == "sgd"
    assert config.train.epochs == 15
    assert config.train.batch_size == 32  # inherited
    assert "epoch1_val_accuracy" not in config.reference  # dropped with null
    assert config.reference["test_accuracy"].value == pytest.approx(0.6525)


def test_extends_a_relative_file_and_deep_merges(tmp_path):
    write(
        tmp_path / "base.yaml",
        "experiment: convnet\ndata: {dataset: cifar10}\n"
        "train: {epochs: 4, optimizer: {name: sgd, learning_rate: 0.1}}\n",
    )
    child = write(tmp_path / "child.yaml", "extends: base.yaml\ntrain: {optimizer: {momentum: 0.9}}\n")
    config = resolve_config(str(child))
    assert config.name == "child"
    assert config.train.epochs == 4
    assert config.train.optimizer.name == "sgd"
    assert config.train.optimizer.learning_rate == pytest.approx(0.1)
    assert config.train.optimizer.momentum == pytest.approx(0.9)


def test_override_order_yaml_then_smoke_then_flags_then_set():
    config = resolve_config(
        "cnn-cifar10", flags={"train.epochs": 3, "seed": 7}, sets=["train.epochs=5"], smoke=True
    )
    assert config.train.epochs == 5  # --set beats --epochs beats --smoke beats YAML
    assert config.seed == 7
    assert config.data.source == "synthetic"  # from --smoke
    assert config.data.train_samples == 2048  # the experiment's own smoke size


def test_flag_beats_smoke_epochs():
    assert resolve_config("cnn-cifar10", flags={"train.epochs": 2}, smoke=True).train.epochs == 2
    assert resolve_config("cnn-cifar10", smoke=True).train.epochs == 1


def test_set_values_are_parsed_as_yaml():
    config = resolve_config(
        "cnn-cifar10",
        sets=[
            "model.filters=[8, 16]",
            "train.from_logits=false",
            "train.optimizer.learning_rate=1e-2",
            "data.validation=0.2",
        ],
    )
    assert config.model.filters == [8, 16]
    assert config.train.from_logits is False
    assert config.train.optimizer.learning_rate == pytest.approx(0.01)
    assert config.data.validation == pytest.approx(0.2)


def test_resolved_config_round_trips_through_its_yaml(tmp_path):
    config = resolve_config("cnn-cifar10-sgd", sets=["train.batch_size=64"], smoke=True)
    saved = write(tmp_path / "config.yaml", config.to_yaml())
    again = resolve_config(str(saved))
    assert again.to_dict() == config.to_dict()
    assert again.config_hash() == config.config_hash()
    assert again.name == "cnn-cifar10-sgd"


def test_config_hash_ignores_description_but_not_settings():
    base = resolve_config("cnn-cifar10")
    assert resolve_config("cnn-cifar10", sets=["description=other"]).config_hash() == base.config_hash()
    assert resolve_config("cnn-cifar10", sets=["seed=1"]).config_hash() != base.config_hash()


# ----------------------------------------------------------------------------- bad input


def error_of(*args, **kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        resolve_config(*args, **kwargs)
    return str(caught.value)


def test_unknown_config_name_suggests_close_matches():
    message = error_of("cnn-cifar")
    assert "Unknown experiment or config 'cnn-cifar'" in message
    assert "Did you mean 'cnn-cifar10'" in message


def test_missing_config_file():
    assert "Config file not found: nowhere/x.yaml" in error_of("nowhere/x.yaml")


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = write(tmp_path / "bad.yaml", "experiment: convnet\ntrain:\n  epochs: [1, 2\n")
    message = error_of(str(bad))
    assert "YAML syntax error in" in message and "bad.yaml" in message
    assert "line 4" in message or "line 3" in message


def test_unknown_key_names_file_allowed_keys_and_suggestion(tmp_path):
    bad = write(tmp_path / "typo.yaml", "extends: cnn-cifar10\ntrain: {epoch: 3}\n")
    message = error_of(str(bad))
    assert "Unknown key 'train.epoch'" in message
    assert "typo.yaml" in message
    assert "Allowed keys under 'train'" in message and "batch_size" in message
    assert "Did you mean 'epochs'" in message


def test_unknown_model_key_lists_the_experiments_own_keys():
    message = error_of("cnn-cifar10", sets=["model.filterz=[1]"])
    assert "Unknown key 'model.filterz' (from --set)" in message
    assert "filters" in message and "Did you mean 'filters'?" in message


@pytest.mark.parametrize(
    "flags, sets, key, origin",
    [
        ({"train.epochs": -3}, [], "train.epochs", "--epochs"),
        ({}, ["train.batch_size=abc"], "train.batch_size", "--set"),
        ({}, ["data.source=web"], "data.source", "--set"),
        ({}, ["data.validation=1.5"], "data.validation", "--set"),
        ({}, ["train.optimizer.name=adamm"], "train.optimizer.name", "--set"),
    ],
)
def test_wrong_values_name_key_origin_and_allowed(flags, sets, key, origin):
    message = error_of("cnn-cifar10", flags=flags, sets=sets)
    assert f"Invalid value for '{key}' (from {origin})" in message


def test_set_without_equals_sign():
    with pytest.raises(ConfigError, match="--set expects KEY=VALUE"):
        parse_set("train.epochs")


def test_set_into_a_value_is_an_error():
    assert "is a value" in error_of("cnn-cifar10", sets=["train.epochs.x=1"])


def test_unknown_experiment_in_yaml(tmp_path):
    bad = write(tmp_path / "x.yaml", "experiment: convnets_x\n")
    message = error_of(str(bad))
    assert "Unknown experiment 'convnets_x'" in message and "Did you mean 'convnet'" in message


def test_extends_cycle_is_reported(tmp_path):
    write(tmp_path / "a.yaml", "extends: b.yaml\nexperiment: convnet\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    assert "loops back" in error_of(str(tmp_path / "a.yaml"))


def test_every_packaged_config_is_valid_and_states_its_reference():
    """Every config validates and says what it reaches ({} where the source printed no number)."""
    from dlab.config import config_names, find_config, load_yaml_chain

    for name in config_names():
        config = resolve_config(name)
        assert config.description, name
        assert "reference" in load_yaml_chain(find_config(name), {}), f"{name}: no reference block"


# --------------------------------------------------------------------------- training options


def test_training_options_left_unset_do_not_show_and_keep_the_hash():
    """class_weight, reduce_lr_on_plateau and callbacks came after the packaged configs: unset,
    they are not in the resolved config (dlab show, config.yaml) nor in its hash."""
    config = resolve_config("cnn-cifar10")
    assert not {"class_weight", "reduce_lr_on_plateau", "callbacks"} & set(config.to_dict()["train"])
    weighted = resolve_config("cnn-cifar10", sets=["train.class_weight={0: 2.0}"])
    assert weighted.to_dict()["train"]["class_weight"] == {"0": 2.0}
    assert weighted.config_hash() != config.config_hash()
    plateau = resolve_config("cnn-cifar10", sets=["train.reduce_lr_on_plateau=true"])
    assert plateau.to_dict()["train"]["reduce_lr_on_plateau"]["monitor"] == "val_loss"


def test_a_loss_with_arguments_round_trips_and_compares_to_its_name(tmp_path):
    config = resolve_config(
        "cnn-cifar10", sets=["train.loss={name: categorical_crossentropy, label_smoothing: 0.1}"]
    )
    assert config.train.loss == "categorical_crossentropy"  # experiments compare train.loss with names
    assert config.train.loss_name == "categorical_crossentropy"
    assert config.train.loss_arguments == {"label_smoothing": 0.1}
    saved = write(tmp_path / "saved.yaml", config.to_yaml())
    assert resolve_config(str(saved)).config_hash() == config.config_hash()


def test_keys_of_a_schedule_and_of_a_callback_get_a_did_you_mean():
    message = error_of("cnn-cifar10", sets=["train.optimizer.schedule={name: cosine_decay, decay_epoch: 5}"])
    assert "Unknown key 'train.optimizer.schedule.decay_epoch' (from --set)" in message
    assert "Allowed keys under 'train.optimizer.schedule' (cosine_decay): alpha, decay_epochs" in message
    assert "Did you mean 'decay_epochs'" in message
    message = error_of("cnn-cifar10", sets=["train.callbacks=[{target: 'cb.py:Log', kwarg: {}}]"])
    assert "Unknown key 'train.callbacks.kwarg'" in message and "Did you mean 'kwargs'" in message
    message = error_of("cnn-cifar10", sets=["train.optimizer.schedule={name: cosine}"])
    assert "Did you mean 'cosine_decay'?" in message and "?." not in message
