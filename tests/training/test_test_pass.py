"""A run that validates on its test split takes its last validation pass as the test evaluation:
the same numbers ``evaluate`` gives, and a pass of its own wherever the model could differ."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from dlab.config import TrainConfig


def _train(**settings) -> TrainConfig:
    return TrainConfig.model_validate(settings)


def last_validation_metrics(history):
    from dlab.training.test_pass import last_validation_metrics  # imports Keras: not at collection

    return last_validation_metrics(history)


def reevaluate_because(*args, **kwargs):
    from dlab.training.test_pass import reevaluate_because  # imports Keras: not at collection

    return reevaluate_because(*args, **kwargs)


@pytest.fixture(scope="module")
def trained():
    """A small classifier fitted 3 epochs through dlab's own array pipeline (three batches per
    compiled call, so both splits repeat: one iterator for the whole fit, the test split's last
    batch partial), validating on the test arrays: (model, history, x_test, y_test)."""
    import keras

    from dlab.training.batches import array_fit_arguments

    rng = np.random.default_rng(3)
    x_train, x_test = rng.normal(size=(96, 6)).astype("float32"), rng.normal(size=(40, 6)).astype("float32")
    y_train, y_test = rng.integers(0, 3, 96), rng.integers(0, 3, 40)
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=3,
    )
    arguments = array_fit_arguments(x_train, y_train, (x_test, y_test), 16, True, model, seed=3)
    assert arguments["steps_per_epoch"] == 6 and arguments["validation_steps"] == 3  # repeating
    history = model.fit(**arguments, epochs=3, verbose=0).history
    return model, history, x_test, y_test


def test_the_last_validation_pass_gives_what_evaluate_gives(trained):
    model, history, x_test, y_test = trained
    reused = last_validation_metrics(history)
    evaluated = model.evaluate(x_test, y_test, batch_size=16, return_dict=True, verbose=0)
    assert set(reused) == set(evaluated) == {"loss", "accuracy"}
    for key, value in evaluated.items():
        assert reused[key] == pytest.approx(float(value), rel=1e-6, abs=1e-7)


def test_only_training_metrics_with_a_finite_validation_value_are_taken():
    history = {"loss": [1.0, 0.5], "val_loss": [1.2, 0.7], "mae": [3.0, 2.0], "val_mae": [3.5, 2.5]}
    assert last_validation_metrics({**history, "learning_rate": [0.1, 0.05]}) == {"loss": 0.7, "mae": 2.5}
    assert last_validation_metrics({"loss": [1.0], "mae": [2.0], "val_loss": [1.1]}) is None
    assert last_validation_metrics({"loss": [1.0], "val_loss": [float("nan")]}) is None
    assert last_validation_metrics({"loss": [1.0]}) is None


@pytest.mark.parametrize(
    ("settings", "flags", "reason"),
    [
        ({}, {}, None),
        ({"checkpoint": {"monitor": "val_loss"}}, {}, "the best checkpoint is evaluated"),
        ({"early_stopping": {"patience": 2}}, {}, "early stopping restores the best weights"),
        ({"early_stopping": {"patience": 2, "restore_best_weights": False}}, {}, None),
        ({}, {"experiment_callbacks": True}, "callbacks may change the model"),
        ({"callbacks": [{"target": "keras.callbacks:TerminateOnNaN"}]}, {}, "callbacks may change the model"),
        ({}, {"resumed": True}, "the run resumed"),
        ({}, {"stopped_for_time": True}, "time limit"),
    ],
)
def test_every_way_the_model_could_differ_evaluates_again(trained, settings, flags, reason):
    model, _, x_test, y_test = trained
    data = SimpleNamespace(x_val=x_test, y_val=y_test, x_test=x_test, y_test=y_test)
    options = {"experiment_callbacks": False, "resumed": False, "stopped_for_time": False, **flags}
    found = reevaluate_because(model, data, _train(**settings), **options)
    assert found == reason if reason is None else reason in found


def test_validation_rows_that_are_not_the_test_split_are_never_taken(trained):
    model, _, x_test, y_test = trained
    options = {"experiment_callbacks": False, "resumed": False, "stopped_for_time": False}
    copied = SimpleNamespace(x_val=x_test.copy(), y_val=y_test, x_test=x_test, y_test=y_test)
    none = SimpleNamespace(x_val=None, y_val=None, x_test=x_test, y_test=y_test)
    for data in (copied, none, SimpleNamespace()):  # equal rows, no validation, a stream dataset
        assert (
            reevaluate_because(model, data, _train(), **options)
            == "the validation data is not the test split"
        )


def test_a_stateful_model_or_moving_averages_evaluate_again(trained):
    import keras

    _, _, x_test, y_test = trained
    data = SimpleNamespace(x_val=x_test, y_val=y_test, x_test=x_test, y_test=y_test)
    options = {"experiment_callbacks": False, "resumed": False, "stopped_for_time": False}
    stateful = keras.Sequential(
        [keras.Input(batch_shape=(4, 5, 2)), keras.layers.GRU(3, stateful=True), keras.layers.Dense(1)]
    )
    stateful.compile(optimizer="sgd", loss="mse")
    assert "stateful" in reevaluate_because(stateful, data, _train(), **options)
    averaged = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    averaged.compile(optimizer=keras.optimizers.Adam(use_ema=True), loss="mse")
    assert "moving averages" in reevaluate_because(averaged, data, _train(), **options)
    # mixed precision wraps it: the wrapper's own use_ema is False, its inner optimizer's is not
    scaled = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    scaled.compile(
        optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(use_ema=True)), loss="mse"
    )
    assert "moving averages" in reevaluate_because(scaled, data, _train(), **options)


def test_a_stateful_layer_inside_a_custom_layer_is_found(trained):
    import keras

    _, _, x_test, y_test = trained

    class Block(keras.layers.Layer):  # holds its GRU as an attribute: no .layers to walk
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.gru = keras.layers.GRU(3, stateful=True)

        def call(self, inputs):
            return self.gru(inputs)

    model = keras.Sequential([Block(), keras.layers.Dense(1)])  # what it holds, not yet called
    model.compile(optimizer="sgd", loss="mse")
    data = SimpleNamespace(x_val=x_test, y_val=y_test, x_test=x_test, y_test=y_test)
    options = {"experiment_callbacks": False, "resumed": False, "stopped_for_time": False}
    assert "stateful" in reevaluate_because(model, data, _train(), **options)


def test_a_run_on_its_test_split_says_its_test_metrics_are_the_last_validation(runs):
    """Through the public API: mlp-mnist validates on its test split; a validation fraction of
    the training rows (another set of rows) gets a test pass of its own."""
    on_test = json.loads((runs("mlp-mnist") / "metrics.json").read_text())
    assert on_test["test_from"] == "last_validation"
    assert on_test["test"] == pytest.approx({key: on_test["final"]["val"][key] for key in on_test["test"]})
    held_out = json.loads((runs("mlp-mnist", "data.validation=0.2") / "metrics.json").read_text())
    assert held_out["test_from"] == "evaluate"
    assert held_out["stages"]["evaluate"] > 0
