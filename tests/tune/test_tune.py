"""`dlab tune`: keras-tuner searches on synthetic MNIST, the best config, validation, resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from dlab import api
from dlab.errors import ConfigError, UsageError
from dlab.tune.resume import fingerprint_changes
from dlab.tune.space import set_path

# keras-tuner 1.4 calls threading.currentThread(): not ours to fix
pytestmark = pytest.mark.filterwarnings(
    "ignore:currentThread:DeprecationWarning", "ignore:getName:DeprecationWarning"
)

# A few dozen synthetic images and one epoch per trial: a search takes seconds.
TINY = (
    "--smoke",
    "--no-save",
    "--device",
    "cpu",
    "--set",
    "data.train_samples=80",
    "--set",
    "data.test_samples=32",
)


def only_run(root: Path) -> Path:
    (run,) = [path for path in root.iterdir() if path.is_dir()]
    return run


def no_runs(root: Path) -> bool:
    """True when no run directory was created under the outputs root ``root``."""
    return not list(root.glob("*/*"))


def read_trials(run: Path) -> list[dict[str, str]]:
    with open(run / "trials.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One finished 2-trial search of tune-mnist-mlp, shared by the tests that only read it
    or resume it into a new run directory (the CLI path is exercised by the other tests)."""
    out = tmp_path_factory.mktemp("first")
    result = api.tune(
        "tune-mnist-mlp",
        smoke=True,
        save_model=False,
        device="cpu",
        out=out,
        sets=["data.train_samples=80", "data.test_samples=32"],
    )
    assert result.status == "completed"
    return result.run_dir


def test_smoke_search_writes_trials_table_and_a_runnable_best_config(cli, tmp_path, searched):
    trials = read_trials(searched)
    assert [row["trial"] for row in trials] == ["1", "2"]
    assert {row["status"] for row in trials} == {"COMPLETED"}
    assert json.loads((searched / "trials.json").read_text())[0]["model.hidden.0"] in range(32, 513, 32)
    metrics = json.loads((searched / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    best = metrics["tuner"]["best"]
    scores = [float(row["score"]) for row in trials]
    assert best["score"] == pytest.approx(max(scores))  # val_accuracy is maximized
    assert metrics["tuner"]["trials"] == {"total": 2, "completed": 2, "failed": 0}
    assert set(metrics["test"]) == {"accuracy", "loss"}
    assert (searched / "tuner" / "search" / "oracle.json").is_file()
    assert (searched / "plots" / "trials.png").is_file()

    best_config = yaml.safe_load((searched / "best-config.yaml").read_text())
    assert best_config["experiment"] == "dense_mnist"
    assert best_config["model"]["hidden"] == [best["hyperparameters"]["model.hidden.0"]]
    assert (
        best_config["train"]["optimizer"]["learning_rate"]
        == best["hyperparameters"]["train.optimizer.learning_rate"]
    )

    rerun = cli("run", str(searched / "best-config.yaml"), "--no-save", "--device", "cpu", "--out", "rerun")
    assert rerun.exit_code == 0, rerun.output
    rerun_metrics = json.loads(
        (only_run(tmp_path / "rerun" / "tune-mnist-mlp-best") / "metrics.json").read_text()
    )
    assert rerun_metrics["status"] == "completed"
    assert rerun_metrics["experiment"] == "dense_mnist"
    assert rerun_metrics["params"]["total"] == metrics["params"]["total"]


@pytest.mark.parametrize(
    "space, expected",
    [
        ("{model.hidden.0: {type: int, min: 512, max: 32}}", "min 512 is larger than max 32"),
        (
            "{model.hidden.0: {type: integer, min: 32, max: 512}}",
            "unknown type 'integer'; allowed types: int, float, choice, boolean",
        ),
        (
            "{train.optimizer.learning_rate: {type: float, min: 0.0, max: 0.1, sampling: log}}",
            "log sampling needs min > 0",
        ),
        ("{model.hidden.0: {type: int, min: 32, max: 512, stp: 32}}", "did you mean 'step'"),
        ("{model.hiden.0: {type: int, min: 32, max: 512}}", "Did you mean 'hidden'?"),
        ("{model.hidden.4: {type: int, min: 32, max: 512}}", "indexes a list of 1 items"),
        ("{data.train_samples: {type: int, min: 32, max: 512}}", "under model. or train."),
        ("{model.activation: {type: choice, values: [relu, no_such_activation]}}", "no_such_activation"),
    ],
)
def test_bad_search_space_exits_2_before_anything_runs(cli, tmp_path, space, expected):
    result = cli("tune", "tune-mnist-mlp", *TINY, "--set", f"model.search_space={space}")
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert no_runs(tmp_path / "outputs")


def test_bad_objective_lists_the_metrics_the_trials_record(cli, tmp_path):
    result = cli("tune", "tune-mnist-mlp", *TINY, "--set", "model.objective=val_acc")
    assert result.exit_code == 2
    assert "val_accuracy" in result.output and no_runs(tmp_path / "outputs")


def test_tune_refuses_a_config_that_is_not_a_search(cli, tmp_path):
    result = cli("tune", "mlp-mnist", "--smoke")
    assert result.exit_code == 2
    assert "dlab run mlp-mnist" in result.output


def test_resume_with_a_changed_space_is_refused_with_what_changed(cli, tmp_path, searched):
    result = cli(
        "tune",
        "--resume",
        str(searched),
        "--out",
        "again",
        "--set",
        "model.search_space={model.hidden.0: {type: int, min: 32, max: 256, step: 32}}",
    )
    assert result.exit_code == 2, result.output
    assert "model.search_space.model.hidden.0.max: 512 -> 256" in result.output
    assert "train.optimizer.learning_rate" in result.output  # the entry that was dropped
    assert no_runs(tmp_path / "again")

    changed_epochs = cli("tune", "--resume", str(searched), "--out", "again", "--epochs", "3")
    assert changed_epochs.exit_code == 2
    assert "train.epochs: 1 -> 3" in changed_epochs.output


def test_resume_with_the_same_space_runs_only_the_missing_trials(cli, tmp_path, searched):
    before = read_trials(searched)
    result = cli("tune", "--resume", str(searched), "--max-trials", "4", "--out", "again")
    assert result.exit_code == 0, result.output
    assert result.output.count("best trial") == 1, result.output  # once, at the end
    resumed = only_run(tmp_path / "again" / "tune-mnist-mlp")
    after = read_trials(resumed)
    assert [row["trial"] for row in after] == ["1", "2", "3", "4"]
    assert after[:2] == before  # the finished trials are reloaded, not trained again
    log = (resumed / "run.log").read_text()
    assert "Running Trial #3" in log and "Running Trial #1\n" not in log
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert metrics["tuner"]["resumed_from"] == str(searched)
    assert metrics["tuner"]["trials"]["completed"] == 4
    assert len(read_trials(searched)) == 2  # the resumed run directory is left as it was


def test_trial_figures_count_whole_trials_and_plot_each_hyperparameter(searched):
    """plots/trials.png ticks whole trials only (2 trials used to read 1.0, 1.2 ... 2.0), and
    plots/hyperparameters.png has one panel per hyperparameter against the objective."""
    from dlab.plots import hyperparameters_figure, trials_figure
    from dlab.tune.space import IntParameter
    from dlab.tune.trials import axis_scale

    assert (searched / "plots" / "trials.png").is_file()
    assert (searched / "plots" / "hyperparameters.png").is_file()
    rows = json.loads((searched / "trials.json").read_text())
    for some in (rows, rows[:1]):
        axes = trials_figure(some, "val_accuracy", "max", "trials").axes[0]
        low, high = axes.get_xlim()
        ticks = [tick for tick in axes.get_xticks() if low <= tick <= high]
        assert ticks and all(float(tick).is_integer() for tick in ticks), ticks
    scales = {"model.hidden.0": "int", "train.optimizer.learning_rate": "category"}
    assert axis_scale(IntParameter(min=32, max=512, step=32)) == "int"
    figure = hyperparameters_figure(rows, scales, "val_accuracy", "max", "each hyperparameter")
    shown = [axes for axes in figure.axes if axes.get_visible()]
    assert [axes.get_xlabel() for axes in shown] == list(scales)
    assert all(axes.get_ylabel() == "val_accuracy" for axes in shown)
    labels = [label.get_text() for label in shown[1].get_xticklabels()]
    assert labels == sorted({str(row["train.optimizer.learning_rate"]) for row in rows}, key=float)


def test_resume_needs_a_search_run_directory(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("tune", "--resume", "empty")
    assert result.exit_code == 2
    assert "holds no tuner search" in result.output


def test_a_failed_trial_is_reported_and_listed(cli, tmp_path, monkeypatch):
    import keras

    def broken_fit(*args, **kwargs):
        raise ValueError("broken on purpose")

    monkeypatch.setattr(keras.Model, "fit", broken_fit)  # only trials fit in a search
    result = cli("tune", "tune-mnist-mlp", *TINY)
    assert result.exit_code == 1
    assert "trial 1 FAILED: ValueError: broken on purpose" in result.output
    run = only_run(tmp_path / "outputs" / "tune-mnist-mlp")
    trials = read_trials(run)
    assert [row["status"] for row in trials] == ["FAILED", "FAILED"]
    assert trials[0]["error"] == "ValueError: broken on purpose"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "failed"
    assert "no trial completed" in metrics["error"]["message"]
    assert "Traceback" in (run / "run.log").read_text()


def test_cnn_search_retrains_the_best_with_the_retrain_settings(cli, tmp_path):
    result = cli("tune", "tune-mnist-cnn", *TINY, "--max-trials", "1")
    assert result.exit_code == 0, result.output
    run = only_run(tmp_path / "outputs" / "tune-mnist-cnn")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["retrain"] == {"epochs": 10, "batch_size": 500}
    assert metrics["epochs_run"] == 10 and "accuracy" in metrics["test"]
    best_config = yaml.safe_load((run / "best-config.yaml").read_text())
    assert best_config["experiment"] == "convnet"
    assert best_config["model"]["dense_units"][1] == 64
    assert best_config["train"]["epochs"] == 10 and best_config["train"]["batch_size"] == 500


@pytest.mark.parametrize("algorithm, epochs", [("hyperband", 2), ("bayesian", 1)])
def test_other_algorithms_search(tmp_path, algorithm, epochs):
    result = api.tune(
        "tune-mnist-mlp",
        smoke=True,
        save_model=False,
        device="cpu",
        out=tmp_path,
        epochs=epochs,
        sets=[
            f"model.algorithm={algorithm}",
            "model.num_initial_points=1",
            "data.train_samples=64",
            "data.test_samples=16",
        ],
    )
    assert result.status == "completed"
    rows = json.loads((result.run_dir / "trials.json").read_text())
    assert rows and all(row["status"] == "COMPLETED" for row in rows)
    assert result.metrics["tuner"]["algorithm"] == algorithm


def test_api_tune_needs_a_config_or_a_run_to_resume():
    with pytest.raises(UsageError, match="needs a tuner config"):
        api.tune()


def test_set_path_reaches_into_lists_and_names_the_bad_part():
    data = {"model": {"hidden": [128, 64]}, "train": {"optimizer": {"learning_rate": 0.1}}}
    set_path(data, "model.hidden.1", 32)
    set_path(data, "train.optimizer.learning_rate", 0.01)
    assert data == {"model": {"hidden": [128, 32]}, "train": {"optimizer": {"learning_rate": 0.01}}}
    with pytest.raises(ConfigError, match="'model.hidden.2' indexes a list of 2 items"):
        set_path(data, "model.hidden.2", 8)
    with pytest.raises(ConfigError, match="is a value"):
        set_path(data, "train.optimizer.learning_rate.x", 1)


def test_fingerprint_changes_name_each_key():
    old = {"model": {"search_space": {"a": {"max": 512}}}, "seed": 1}
    new = {"model": {"search_space": {"a": {"max": 256}, "b": {"type": "boolean"}}}, "seed": 1}
    assert fingerprint_changes(old, new) == [
        "model.search_space.a.max: 512 -> 256",
        'model.search_space.b.type: (absent) -> "boolean"',
    ]
    assert fingerprint_changes(old, old) == []


@pytest.mark.heavy
@pytest.mark.parametrize(
    "args",
    [
        ["show", "tune-mnist-mlp"],
        ["tune", "--help"],
        [
            "tune",
            "tune-mnist-mlp",
            "--set",
            "model.search_space={model.hidden.0: {type: int, min: 512, max: 32}}",
        ],
    ],
)
def test_show_help_and_a_bad_space_never_start_tensorflow(args):
    import subprocess
    import sys

    code = (
        f"import sys\nfrom dlab.cli import app\ntry:\n    app({args!r})\n"
        "except SystemExit:\n    pass\n"
        "print('HEAVY=' + ','.join(m for m in ('tensorflow', 'keras', 'keras_tuner') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[-1] == "HEAVY=", result.stdout + result.stderr


def test_offline_mnist_stops_the_search_before_it_starts(cli, tmp_path, monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    result = cli("tune", "tune-mnist-mlp", "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert "--smoke" in result.output and "Traceback" not in result.output
    assert no_runs(tmp_path / "outputs")


def test_the_real_config_searches_keras_mnist(cli, tmp_path, monkeypatch):
    """The packaged config as it is (keras source, validation 0.2), on a small file in the
    layout keras.datasets.mnist.load_data returns."""
    import keras
    import numpy as np

    def fake_load_data():
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (120, 28, 28), dtype=np.uint8)
        y = np.arange(120, dtype=np.uint8) % 10
        return (x[:100], y[:100]), (x[100:], y[100:])

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_load_data)
    result = cli(
        "tune", "tune-mnist-mlp", "--device", "cpu", "--no-save", "--epochs", "1", "--max-trials", "1"
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((only_run(tmp_path / "outputs" / "tune-mnist-mlp") / "metrics.json").read_text())
    assert metrics["data"]["source"] == "keras"
    assert (metrics["data"]["train_samples"], metrics["data"]["val_samples"]) == (80, 20)
    assert metrics["tuner"]["trials"]["completed"] == 1


def test_a_missing_tensorboard_is_named_before_the_search(cli, tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "tensorboard" else find_spec(name, *args),
    )
    result = cli("tune", "tune-mnist-mlp", *TINY)
    assert result.exit_code == 2, result.output
    assert "pip install tensorboard" in result.output
    assert no_runs(tmp_path / "outputs")
