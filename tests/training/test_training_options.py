"""The training options Keras users expect: any optimizer and its arguments, every schedule in
epochs, any loss or metric with arguments, class weights, ReduceLROnPlateau and callbacks of
the user's own; each reaches Keras, and each mistake stops the run before it exists (exit 2)."""

from __future__ import annotations

import math
import re
import signal
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from dlab.config import TrainConfig
from dlab.errors import ConfigError
from dlab.framework.factory import resolve_config


@pytest.fixture(scope="module", autouse=True)
def keras_imported():
    """Importing Keras (TensorFlow) takes seconds once per process: setup, not any one test."""
    import keras  # noqa: F401


def train(**settings) -> TrainConfig:
    return TrainConfig.model_validate(settings)


@pytest.fixture
def clean_modules():
    """Each test writes modules of its own names; forget them afterwards."""
    before, path = set(sys.modules), list(sys.path)
    yield
    for name in set(sys.modules) - before:
        if not name.startswith(("keras", "tensorflow", "dlab")):
            del sys.modules[name]
    sys.path[:] = path


def write_module(folder, name: str, source: str):
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


# --------------------------------------------------------------------------- optimizers


def test_any_optimizer_argument_reaches_keras():
    from dlab.training import build_optimizer

    adamw = build_optimizer(
        train(
            optimizer={
                "name": "adamw",
                "learning_rate": 1e-3,
                "weight_decay": 0.01,
                "amsgrad": True,
                "use_ema": True,
                "clipvalue": 0.5,
            }
        ).optimizer
    )
    assert type(adamw).__name__ == "AdamW"
    assert adamw.weight_decay == pytest.approx(0.01) and adamw.amsgrad and adamw.use_ema
    assert adamw.clipvalue == pytest.approx(0.5)
    sgd = build_optimizer(train(optimizer={"name": "sgd", "momentum": 0.9, "nesterov": True}).optimizer)
    assert sgd.nesterov and sgd.momentum == pytest.approx(0.9)
    lamb = build_optimizer(train(optimizer={"name": "lamb", "learning_rate": 0.01}).optimizer)
    assert type(lamb).__name__ == "Lamb"  # not among the ten names dlab knew before


def test_the_optimizer_section_keeps_the_extra_arguments_in_the_resolved_config():
    config = resolve_config(
        "cnn-cifar10", sets=["train.optimizer.name=adamw", "train.optimizer.weight_decay=0.05"]
    )
    assert config.train.optimizer.arguments == {"weight_decay": 0.05}
    assert config.to_dict()["train"]["optimizer"]["weight_decay"] == 0.05
    assert config.config_hash() != resolve_config("cnn-cifar10").config_hash()


def test_an_unknown_optimizer_argument_lists_the_signature_and_the_closest():
    from dlab.training.options import check_optimizer

    with pytest.raises(ConfigError) as error:
        check_optimizer(train(optimizer={"name": "adamw", "weight_decai": 0.01}).optimizer)
    message = str(error.value)
    assert "Unknown argument 'train.optimizer.weight_decai'" in message
    assert "keras.optimizers.AdamW" in message and "Its arguments: learning_rate, weight_decay" in message
    assert "Did you mean 'weight_decay'?" in message
    with pytest.raises(ConfigError, match="adam .*takes no argument 'momentum'"):
        check_optimizer(train(optimizer={"name": "adam", "momentum": 0.9}).optimizer)


def test_an_unknown_optimizer_is_refused_when_the_config_resolves():
    with pytest.raises(ConfigError) as error:
        resolve_config("cnn-cifar10", sets=["train.optimizer.name=adamx"])
    message = str(error.value)
    assert "Invalid value for 'train.optimizer.name' (from --set)" in message
    assert "lamb" in message and "Did you mean 'adamax'" in message


def test_a_value_keras_refuses_is_a_config_error():
    from dlab.training.options import check_optimizer

    with pytest.raises(ConfigError, match="train.optimizer: keras.optimizers.Adam refused"):
        check_optimizer(train(optimizer={"name": "adam", "clipnorm": 1.0, "global_clipnorm": 1.0}).optimizer)


# --------------------------------------------------------------------------- schedules


def rates(config: TrainConfig, steps_per_epoch: int, steps) -> list[float]:
    from dlab.training import learning_rate

    schedule = learning_rate(config.optimizer, steps_per_epoch)
    return [float(schedule(step)) for step in steps]


def test_cosine_decay_with_warmup_in_epochs():
    config = train(
        optimizer={
            "learning_rate": 1e-4,
            "schedule": {
                "name": "cosine_decay",
                "decay_epochs": 3,
                "warmup_epochs": 2,
                "warmup_target": 1e-3,
                "alpha": 0.1,
            },
        }
    )
    start, warm, middle, end, after = rates(config, 10, [0, 20, 35, 50, 80])  # 10 steps per epoch
    assert start == pytest.approx(1e-4)  # the learning rate: where the warmup starts
    assert warm == pytest.approx(1e-3)  # warmup_epochs * steps per epoch: the target
    assert middle == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5), rel=1e-5)  # half-way down the cosine
    assert end == pytest.approx(1e-4) and after == pytest.approx(1e-4)  # alpha * target, and stays


@pytest.mark.parametrize(
    "schedule, steps, expected",
    [
        # today's schedule, exactly as before: lr / (1 + rate * step / (decay_epochs * steps))
        ({"decay_epochs": 2, "decay_rate": 1.0}, [0, 10, 40], [0.1, 0.1 / 1.5, 0.1 / 3]),
        (
            {"name": "exponential_decay", "decay_epochs": 1, "decay_rate": 0.5},
            [0, 10, 25],
            [0.1, 0.05, 0.1 * 0.5**2.5],
        ),
        (
            {"name": "exponential_decay", "decay_epochs": 1, "decay_rate": 0.5, "staircase": True},
            [25],
            [0.025],
        ),
        # epochs 1-2 at values[0], 3-4 at values[1], then values[2]
        (
            {"name": "piecewise_constant", "boundaries": [2, 4], "values": [0.3, 0.2, 0.1]},
            [0, 19, 20, 39, 40, 100],
            [0.3, 0.3, 0.2, 0.2, 0.1, 0.1],
        ),
        (
            {"name": "polynomial_decay", "decay_epochs": 2, "end_learning_rate": 0.01},
            [0, 10, 20, 50],
            [0.1, 0.055, 0.01, 0.01],
        ),
        ({"name": "cosine_decay_restarts", "first_decay_epochs": 1}, [0, 5, 10, 20], [0.1, 0.05, 0.1, 0.05]),
        ({"name": "cosine_decay", "decay_epochs": 2}, [0, 10, 20], [0.1, 0.05, 0.0]),
    ],
)
def test_every_keras_schedule_counts_in_epochs(schedule, steps, expected):
    config = train(optimizer={"learning_rate": 0.1, "schedule": schedule})
    assert rates(config, 10, steps) == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_a_schedule_without_a_name_is_todays_inverse_time_decay_and_dumps_as_before():
    config = resolve_config("higgs-tiny")
    assert config.train.optimizer.schedule.name == "inverse_time_decay"
    assert config.to_dict()["train"]["optimizer"]["schedule"] == {
        "name": "inverse_time_decay",
        "decay_epochs": 1000.0,
        "decay_rate": 1.0,
        "staircase": False,
    }


@pytest.mark.parametrize(
    "schedule, message",
    [
        ("{name: cosine, decay_epochs: 3}", "unknown schedule 'cosine'.*Did you mean 'cosine_decay'"),
        (
            "{name: cosine_decay, decay_epoch: 3}",
            r"Unknown key 'train.optimizer.schedule.decay_epoch' \(from --set\). Allowed keys under "
            r"'train.optimizer.schedule' \(cosine_decay\): alpha, decay_epochs.*Did you mean 'decay_epochs'",
        ),
        (
            "{name: exponential_decay, decay_epochs: 3}",
            "Missing required key 'train.optimizer.schedule.decay_rate'",
        ),
        ("{name: cosine_decay, decay_epochs: 3, warmup_epochs: 1}", "warmup_epochs needs warmup_target"),
        ("{name: piecewise_constant, boundaries: [2, 4], values: [0.1, 0.2]}", "one rate per interval"),
    ],
)
def test_bad_schedules_are_refused_when_the_config_resolves(schedule, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config("cnn-cifar10", sets=[f"train.optimizer.schedule={schedule}"])


def test_reduce_lr_on_plateau_is_a_callback_setting_and_not_with_a_schedule():
    from dlab.training.callbacks import config_callbacks

    config = train(
        reduce_lr_on_plateau={"monitor": "val_accuracy", "factor": 0.5, "patience": 2, "min_lr": 1e-5}
    )
    (plateau,), users = config_callbacks(config)
    assert type(plateau).__name__ == "ReduceLROnPlateau" and users == []
    assert (plateau.monitor, plateau.factor, plateau.patience, plateau.min_lr) == (
        "val_accuracy",
        0.5,
        2,
        1e-5,
    )
    assert train(reduce_lr_on_plateau=True).reduce_lr_on_plateau.monitor == "val_loss"
    with pytest.raises(ConfigError, match="ReduceLROnPlateau cannot change it. Use one of the two"):
        resolve_config("higgs-tiny", sets=["train.reduce_lr_on_plateau=true"])
    with pytest.raises(ConfigError, match="Did you mean 'patience'"):
        resolve_config("cnn-cifar10", sets=["train.reduce_lr_on_plateau={patiense: 3}"])


def test_the_history_records_the_rate_each_epoch_trained_with():
    import keras

    from dlab.training import build_optimizer
    from dlab.training.callbacks import HistoryWriter

    written = []
    config = train(
        optimizer={
            "learning_rate": 0.1,
            "schedule": {"name": "exponential_decay", "decay_epochs": 1, "decay_rate": 0.5},
        }
    )
    ctx = SimpleNamespace(
        config=SimpleNamespace(train=config),
        history={},
        run_dir=SimpleNamespace(write_history=lambda history: written.append(dict(history))),
    )
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=build_optimizer(config.optimizer, 4), loss="mse")
    writer = HistoryWriter(ctx)
    writer.set_model(model)
    for epoch in range(3):
        writer.on_epoch_begin(epoch)
        model.optimizer.iterations.assign_add(4)  # one epoch of 4 steps
        writer.on_epoch_end(epoch, {"loss": 1.0})
    assert ctx.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    plain = SimpleNamespace(config=SimpleNamespace(train=train()), history={}, run_dir=ctx.run_dir)
    assert not HistoryWriter(plain).record_rate  # a constant rate adds no column


# --------------------------------------------------------------------------- losses


def test_loss_arguments_reach_the_keras_loss():
    from dlab.training import build_loss
    from dlab.training.options import label_encoding

    config = train(loss={"name": "categorical_crossentropy", "label_smoothing": 0.1}, from_logits=True)
    loss = build_loss(config)
    assert type(loss).__name__ == "CategoricalCrossentropy"
    assert loss.label_smoothing == pytest.approx(0.1) and loss.from_logits
    assert config.loss == "categorical_crossentropy" and label_encoding(config) == "one_hot"
    focal = build_loss(train(loss={"name": "categorical_focal_crossentropy", "gamma": 3.0}))
    assert type(focal).__name__ == "CategoricalFocalCrossentropy" and focal.gamma == pytest.approx(3.0)
    by_name = build_loss(train(loss="binary_focal_crossentropy", from_logits=True))
    assert type(by_name).__name__ == "BinaryFocalCrossentropy" and by_name.from_logits
    huber = build_loss(train(loss={"name": "huber", "delta": 2.0}))
    assert huber.get_config()["name"] == "huber_loss" and "Huber" in type(huber).__name__


def test_the_seven_losses_dlab_had_build_what_they_built_before():
    import keras

    from dlab.training import build_loss
    from dlab.training.losses import half_squared_error

    sparse = build_loss(train(loss="sparse_categorical_crossentropy", from_logits=True))
    assert type(sparse).__name__ == "SparseCategoricalCrossentropy" and sparse.from_logits
    assert type(build_loss(train(loss="binary_crossentropy"))).__name__ == "BinaryCrossentropy"
    assert build_loss(train(loss="mean_squared_error")) is keras.losses.mean_squared_error
    assert build_loss(train(loss="huber")) is keras.losses.huber
    assert build_loss(train(loss="half_squared_error")) is half_squared_error


def test_a_loss_argument_that_does_not_exist_says_which_exist():
    from dlab.training.options import check_loss

    with pytest.raises(ConfigError) as error:
        check_loss(train(loss={"name": "sparse_categorical_crossentropy", "label_smoothing": 0.1}))
    message = str(error.value)
    assert "Unknown argument 'train.loss.label_smoothing'" in message
    assert "Its arguments: from_logits, ignore_class" in message
    assert "label_smoothing is an argument of" in message and "categorical_crossentropy" in message
    with pytest.raises(ValueError, match="move it there"):  # the schema refuses it
        train(loss={"name": "binary_crossentropy", "from_logits": True})
    with pytest.raises(ConfigError, match="dlab's half_squared_error takes no arguments"):
        check_loss(train(loss={"name": "half_squared_error", "scale": 2}))


def test_an_unknown_loss_is_refused_when_the_config_resolves():
    with pytest.raises(ConfigError) as error:
        resolve_config("cnn-cifar10", sets=["train.loss=categorical_focal_crossentropyy"])
    message = str(error.value)
    assert "Invalid value for 'train.loss' (from --set)" in message
    assert "Did you mean 'categorical_focal_crossentropy'" in message


def test_a_loss_of_your_own_by_file_path_with_arguments(tmp_path, monkeypatch, clean_modules):
    import keras

    from dlab.training import build_loss
    from dlab.training.options import check_loss

    write_module(
        tmp_path,
        "opt_losses_a.py",
        """
        from keras import ops

        def scaled_error(y_true, y_pred, scale=1.0):
            return scale * ops.mean(ops.square(y_true - y_pred), axis=-1)
        """,
    )
    monkeypatch.chdir(tmp_path)  # a relative path is read from the working folder
    config = train(loss={"name": "opt_losses_a.py:scaled_error", "scale": 3.0})
    check_loss(config)
    loss = build_loss(config)
    y_true, y_pred = np.zeros((4, 1), "float32"), np.ones((4, 1), "float32")
    assert float(keras.ops.convert_to_numpy(loss(y_true, y_pred))) == pytest.approx(3.0)
    with pytest.raises(ConfigError, match="takes no argument 'scal'.*Did you mean 'scale'"):
        check_loss(train(loss={"name": "opt_losses_a.py:scaled_error", "scal": 3.0}))
    with pytest.raises(ConfigError, match=r"train.loss.*has no 'scaled'.*Did you mean 'scaled_error'"):
        check_loss(train(loss="opt_losses_a.py:scaled"))


# --------------------------------------------------------------------------- metrics


def test_metrics_with_arguments():
    from dlab.training import build_metrics, history_name

    config = train(metrics=["accuracy", {"name": "auc", "curve": "PR"}])
    accuracy, auc = build_metrics(config, num_classes=2)
    assert accuracy == "accuracy"
    assert type(auc).__name__ == "AUC" and auc.curve.name == "PR" and auc.name == "auc"
    assert [history_name(metric) for metric in config.metrics] == ["accuracy", "auc"]
    with pytest.raises(ConfigError, match=r"train.metrics\[1\].curv'.*Did you mean 'curve'"):
        build_metrics(train(metrics=["accuracy", {"name": "auc", "curv": "PR"}]), num_classes=2)
    with pytest.raises(ConfigError, match="dlab's metric perplexity takes no arguments"):
        build_metrics(train(metrics=[{"name": "perplexity", "from_logits": False}]))


# --------------------------------------------------------------------------- class weights


def arrays(y_train, y_test, class_names):
    from dlab.data import ArrayDataset

    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    return ArrayDataset(
        name="toy",
        source="synthetic",
        location=None,
        x_train=np.zeros((len(y_train), 2), "float32"),
        y_train=y_train,
        x_test=np.zeros((len(y_test), 2), "float32"),
        y_test=y_test,
        x_val=np.zeros((len(y_test), 2), "float32"),
        y_val=y_test,
        class_names=class_names,
    )


def test_balanced_class_weights_count_the_training_split_only():
    from dlab.training.options import balanced_class_weights, class_weights

    data = arrays([0, 0, 0, 1], [1, 1, 1, 1, 1, 1], ["no", "yes"])  # the test split would say otherwise
    weights = class_weights(train(class_weight="balanced"), data)
    assert weights == pytest.approx({0: 4 / (2 * 3), 1: 4 / (2 * 1)})  # n / (n_classes * count)
    assert class_weights(train(class_weight={0: 1, 1: 5}), data) == {0: 1.0, 1: 5.0}
    assert class_weights(train(), data) is None
    one_hot = np.eye(3)[[0, 1, 1, 2, 2, 2]]
    assert balanced_class_weights(one_hot) == pytest.approx({0: 2.0, 1: 1.0, 2: 2 / 3})


def test_class_weights_are_checked_against_the_data():
    from dlab.training.options import check_class_weight

    check_class_weight(train(class_weight={0: 1.0, 2: 3.0}), num_classes=3)
    with pytest.raises(ConfigError, match="names class 3, and this data has classes 0..2"):
        check_class_weight(train(class_weight={3: 2.0}), num_classes=3)
    with pytest.raises(ConfigError, match="this data has no classes"):
        check_class_weight(train(class_weight="balanced"), num_classes=0)
    with pytest.raises(ValueError, match="weight of class 1 must be a positive number"):  # the schema
        train(class_weight={0: 1, 1: -2})
    with pytest.raises(ValueError, match="the keys are class indices"):
        train(class_weight={"cat": 1})
    assert train(class_weight={"0": 1, 1: 2}).class_weight == {0: 1.0, 1: 2.0}  # as config.yaml has them


# --------------------------------------------------------------------------- callbacks


CALLBACK = """
import keras

class EpochLog(keras.callbacks.Callback):
    def __init__(self, path, every=1):
        super().__init__()
        self.path, self.every = path, every

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path, "a") as log:
            log.write(f"{epoch + 1}\\n")
"""


def test_user_callbacks_are_imported_checked_and_instantiated(tmp_path, monkeypatch, clean_modules):
    from dlab.training.callbacks import config_callbacks
    from dlab.training.options import check_callbacks

    write_module(tmp_path, "opt_callbacks_a.py", CALLBACK)
    monkeypatch.chdir(tmp_path)
    config = train(callbacks=[{"target": "opt_callbacks_a.py:EpochLog", "kwargs": {"path": "log.txt"}}])
    check_callbacks(config)
    own, (callback,) = config_callbacks(config)
    assert own == [] and type(callback).__name__ == "EpochLog" and callback.path == "log.txt"
    with pytest.raises(ConfigError, match=r"kwargs.pth'.*Its arguments: path, every. Did you mean 'path'"):
        check_callbacks(train(callbacks=[{"target": "opt_callbacks_a.py:EpochLog", "kwargs": {"pth": "x"}}]))
    with pytest.raises(ConfigError, match="needs the argument path"):
        check_callbacks(train(callbacks=["opt_callbacks_a.py:EpochLog"]))
    with pytest.raises(ConfigError, match="not a subclass of keras.callbacks.Callback"):
        check_callbacks(train(callbacks=["opt_callbacks_a.py:keras"]))


# --------------------------------------------------------------------------- through the CLI


@pytest.mark.parametrize(
    "config, sets, message",
    [
        ("mlp-mnist", ["train.optimizer.name=adamx"], "unknown optimizer 'adamx'.*Did you mean 'adamax'"),
        (
            "mlp-mnist",
            ["train.optimizer.weight_decai=0.01"],
            "takes no argument 'weight_decai'.*Did you mean 'weight_decay'",
        ),
        (
            "mlp-mnist",
            ["train.optimizer.schedule={name: cosin, decay_epochs: 2}"],
            "unknown schedule 'cosin'",
        ),
        (
            "mlp-mnist",
            ["train.loss={name: sparse_categorical_crossentropy, label_smoothing: 0.1}"],
            "takes no argument 'label_smoothing'.*Its arguments: from_logits",
        ),
        ("kfold-boston", ["train.class_weight={0: 1.0, 1: 2.0}"], "this data has no classes"),
        (
            "mlp-mnist",
            ["train.callbacks=[opt_broken_cb.py:Logger]"],
            r"train.callbacks\[0\].target.*importing .*opt_broken_cb.py failed:.*line 3, in helper.*"
            "RuntimeError: the user's own bug",
        ),
    ],
)
def test_bad_training_options_stop_the_run_before_it_exists(
    cli, tmp_path, clean_modules, config, sets, message
):
    write_module(
        tmp_path,
        "opt_broken_cb.py",
        """
        def helper():
            raise RuntimeError("the user's own bug")

        helper()
        """,
    )
    args = [arg for assignment in sets for arg in ("--set", assignment)]
    result = cli("run", config, "--smoke", "--device", "cpu", *args)
    assert result.exit_code == 2, result.output
    assert re.search(message, result.output, re.S), result.output
    assert not list(tmp_path.glob("outputs/*/*")), "no run directory may be created"


# --------------------------------------------------------------------------- runs


def only_run(root):
    (run,) = [path for path in root.glob("*/*") if path.is_dir()]
    return run


def history(run) -> dict:
    import json

    return json.loads((run / "history.json").read_text())


def interrupt_after_epoch(monkeypatch, epoch: int):
    """Stop the next run at the end of ``epoch`` as SIGINT would (the guard raises there)."""
    from dlab.errors import RunInterrupted
    from dlab.training.callbacks import RunGuardCallback

    original = RunGuardCallback.on_epoch_end

    def stop(self, index, logs=None):
        original(self, index, logs)
        if index + 1 == epoch:
            raise RunInterrupted(f"interrupted by SIGINT at the end of epoch {epoch}", signal.SIGINT)

    monkeypatch.setattr(RunGuardCallback, "on_epoch_end", stop)


@pytest.mark.heavy
def test_a_resumed_run_continues_the_cosine_schedule_where_it_stopped(cli, tmp_path, monkeypatch):
    from dlab.training import learning_rate

    monkeypatch.setenv("DLAB_BACKUP_INTERVAL", "0")  # a backup after every epoch
    (tmp_path / "cosine.yaml").write_text(
        "extends: mlp-mnist\n"
        "train:\n"
        "  optimizer: {name: adam, learning_rate: 0.0001, schedule: {name: cosine_decay, decay_epochs: 3,"
        " warmup_epochs: 1, warmup_target: 0.001}}\n"
    )
    args = ["run", "cosine.yaml", "--smoke", "--epochs", "4", "--device", "cpu"]
    with monkeypatch.context() as patch:
        interrupt_after_epoch(patch, 2)
        stopped = cli(*args)
    assert stopped.exit_code == 130, stopped.output
    run = only_run(tmp_path / "outputs")
    assert len(history(run)["learning_rate"]) == 2

    resumed = cli(*args, "--resume", str(run))
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after epoch 2 of 4" in resumed.output
    config = resolve_config(str(run / "config.yaml"))
    steps = math.ceil(512 / config.train.batch_size)  # --smoke: 512 training samples
    schedule = learning_rate(config.train.optimizer, steps)
    expected = [float(schedule(epoch * steps)) for epoch in range(4)]
    recorded = history(run)["learning_rate"]
    assert recorded == pytest.approx(expected, rel=1e-5)
    assert recorded[1] == pytest.approx(1e-3) and recorded[2] < recorded[1]  # not back to the warmup
    assert (run / "plots" / "learning_rate.png").stat().st_size > 0


@pytest.mark.heavy
def test_a_user_callback_is_called_once_per_epoch_also_across_resume(
    cli, tmp_path, monkeypatch, clean_modules
):
    monkeypatch.setenv("DLAB_BACKUP_INTERVAL", "0")
    write_module(tmp_path, "opt_callbacks_b.py", CALLBACK)
    (tmp_path / "logged.yaml").write_text(
        "extends: mlp-mnist\n"
        "train:\n"
        "  callbacks: [{target: 'opt_callbacks_b.py:EpochLog', kwargs: {path: calls.txt}}]\n"
    )
    args = ["run", "logged.yaml", "--smoke", "--epochs", "5", "--device", "cpu"]
    with monkeypatch.context() as patch:
        interrupt_after_epoch(patch, 2)
        stopped = cli(*args)
    assert stopped.exit_code == 130, stopped.output
    assert (tmp_path / "calls.txt").read_text().split() == ["1", "2"]

    run = only_run(tmp_path / "outputs")
    resumed = cli(*args, "--resume", str(run))
    assert resumed.exit_code == 0, resumed.output
    assert (tmp_path / "calls.txt").read_text().split() == ["1", "2", "3", "4", "5"]  # 3..5 only


@pytest.mark.heavy
def test_a_run_trains_with_every_option(cli, tmp_path, monkeypatch, clean_modules):
    """Optimizer arguments, loss arguments, metrics with arguments, class weights and
    ReduceLROnPlateau all reach model.fit (with min_delta 1000 no epoch after the first
    improves: the rate halves after every epoch from the second on)."""
    import keras

    given = {}
    fit = keras.Model.fit

    def recording_fit(self, *args, **kwargs):
        given.update(kwargs, optimizer=self.optimizer, loss=self.loss)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", recording_fit)
    (tmp_path / "everything.yaml").write_text(
        "extends: mlp-mnist\n"
        "train:\n"
        "  optimizer: {name: adamw, learning_rate: 0.001, weight_decay: 0.02}\n"
        "  loss: {name: categorical_crossentropy, label_smoothing: 0.1}\n"
        "  metrics: [accuracy, {name: top_k_categorical_accuracy, k: 3}]\n"
        "  class_weight: balanced\n"
        "  reduce_lr_on_plateau: {monitor: val_loss, min_delta: 1000, factor: 0.5, patience: 0}\n"
    )
    result = cli("run", "everything.yaml", "--smoke", "--epochs", "4", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert given["optimizer"].weight_decay == pytest.approx(0.02)
    assert given["loss"].label_smoothing == pytest.approx(0.1)
    weights = given["class_weight"]
    assert sorted(weights) == list(range(10)) and all(w > 0 for w in weights.values())
    run = only_run(tmp_path / "outputs")
    recorded = history(run)
    assert recorded["learning_rate"] == pytest.approx([1e-3, 1e-3, 5e-4, 2.5e-4])
    assert "val_top_k_categorical_accuracy" in recorded


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("train.class_weight=balanced", "train.class_weight would be ignored"),
        ("train.callbacks=[cb.py:Cb]", "train.callbacks would be ignored"),
        ("train.optimizer.weight_decay=0.1", "without momentum, clipnorm or other Keras arguments"),
    ],
)
def test_numpy_experiments_refuse_keras_only_options(cli, assignment, message):
    """A NumPy loop would silently ignore them: say so before anything runs."""
    result = cli("run", "perceptron-and", "--set", assignment)
    assert result.exit_code == 2, result.output
    assert message in result.output
