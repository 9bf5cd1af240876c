"""The from-scratch and playground experiments as users run them: through the CLI."""

from __future__ import annotations

import json

import pytest

from dlab.sweep.study import expand_study, load_study, study_names


def run_and_read(cli, tmp_path, *args):
    result = cli("run", *args)
    assert result.exit_code == 0, result.output
    name = args[0]
    run = sorted((tmp_path / "outputs" / name).iterdir())[-1]
    return run, json.loads((run / "metrics.json").read_text())


def test_perceptron_and_reports_cost_and_first_epoch_below(cli, tmp_path):
    run, metrics = run_and_read(cli, tmp_path, "perceptron-and")
    assert metrics["status"] == "completed" and metrics["backend"] == "numpy"
    assert metrics["device"]["used"] == "cpu" and "tensorflow" not in metrics["versions"]
    assert metrics["epochs_run"] == 70
    assert metrics["first_epoch_below_threshold"] == {"threshold": 0.09, "epoch": None}
    assert metrics["final_cost"] == pytest.approx(0.185, abs=0.01)  # the workshop saw 0.181
    assert metrics["predictions"] == [0, 0, 0, 1]
    for name in (
        "config.yaml",
        "history.csv",
        "plots/loss.png",
        "plots/accuracy.png",
        "plots/decision_boundary.png",
    ):
        assert (run / name).is_file(), name
    assert (run / "history.csv").read_text().splitlines()[0] == "epoch,loss,accuracy"


def test_constant_init_reaches_the_threshold_like_the_spreadsheet(cli, tmp_path):
    run, metrics = run_and_read(cli, tmp_path, "perceptron-and-const10")
    history = json.loads((run / "history.json").read_text())
    assert history["loss"][36] == pytest.approx(0.099, abs=0.001)  # the report: 0.099 at epoch 37
    assert metrics["first_epoch_below_threshold"]["epoch"] == 53


def test_softmax_decoders_report_their_final_cost(cli, tmp_path):
    _, plain = run_and_read(cli, tmp_path, "softmax-decoder")
    _, squashed = run_and_read(cli, tmp_path, "softmax-decoder-sigmoid")
    assert plain["final_cost"] == pytest.approx(0.175, abs=0.005)  # the report's 0.175
    assert squashed["final_cost"] > 1.0 > plain["final_cost"]
    assert plain["predictions"] == [0, 1, 2, 3]


@pytest.mark.parametrize("name", ["xor-mlp", "xor-mlp-tanh"])
def test_xor_is_learned_within_the_default_epochs(cli, tmp_path, name):
    run, metrics = run_and_read(cli, tmp_path, name)
    assert metrics["predictions"] == [0, 1, 1, 0]
    assert metrics["first_epoch_all_correct"] is not None
    assert (run / "plots" / "decision_boundary.png").is_file()


def test_logistic_regression_on_breast_cancer(cli, tmp_path):
    run, metrics = run_and_read(cli, tmp_path, "logreg-scratch")
    assert metrics["data"]["source"] == "builtin"
    assert metrics["data"]["train_samples"] + metrics["data"]["test_samples"] == 569
    assert metrics["test"]["accuracy"] > 0.93
    assert (run / "plots" / "confusion_matrix.png").is_file()


def write_csv(path, rows=80, target="label", extra=""):
    import numpy as np

    rng = np.random.default_rng(0)
    lines = [f"a,b,{target}" + (",colour" if extra else "")]
    for _ in range(rows):
        a, b = rng.normal(size=2)
        label = "yes" if a + b > 0 else "no"
        lines.append(f"{a:.4f},{b:.4f},{label}" + (f",{extra}" if extra else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_logistic_regression_on_any_csv(cli, tmp_path):
    csv = write_csv(tmp_path / "table.csv")
    run, metrics = run_and_read(
        cli,
        tmp_path,
        "logreg-scratch",
        "--set",
        "data.source=file",
        "--set",
        f"data.path={csv}",
        "--set",
        "data.target=label",
    )
    assert metrics["data"]["location"] == str(csv)
    assert metrics["test"]["accuracy"] >= 0.8


@pytest.mark.parametrize(
    "sets, expected",
    [
        (
            ["data.target=lable"],
            "has no column 'lable' (data.target). Did you mean 'label'? Columns: a, b, label",
        ),
        ([], "data.target is not set"),
    ],
)
def test_csv_target_errors(cli, tmp_path, sets, expected):
    csv = write_csv(tmp_path / "table.csv")
    args = ["run", "logreg-scratch", "--set", "data.source=file", "--set", f"data.path={csv}"]
    for assignment in sets:
        args += ["--set", assignment]
    result = cli(*args)
    assert result.exit_code == 2 and expected in result.output


def test_csv_with_non_numeric_features(cli, tmp_path):
    csv = write_csv(tmp_path / "table.csv", extra="red")
    result = cli(
        "run",
        "logreg-scratch",
        "--set",
        "data.source=file",
        "--set",
        f"data.path={csv}",
        "--set",
        "data.target=label",
    )
    assert result.exit_code == 2 and "these are not: colour" in result.output


def test_linear_regression_approaches_least_squares(cli, tmp_path):
    run, metrics = run_and_read(cli, tmp_path, "linreg-scratch")
    assert metrics["final"]["train"]["loss"] == pytest.approx(metrics["least_squares"]["train_mse"], rel=0.01)
    history = json.loads((run / "history.json").read_text())
    assert history["loss"][49] < 1.1 * history["loss"][-1]  # near its floor after ~50 epochs
    assert (run / "plots" / "fitted_line.png").is_file()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["perceptron-and", "--set", "train.optimizer.learning_rate=0"], "greater than 0"),
        (["perceptron-and", "--epochs", "0"], "greater than or equal to 1"),
        (["perceptron-and", "--set", "train.optimizer.name=adam"], "plain gradient descent"),
        (["perceptron-and", "--device", "gpu"], "written in NumPy"),
        (["playground-mlp", "--set", "data.dataset=moons"], "circle, xor, gaussian, spiral"),
    ],
)
def test_bad_input_for_the_fundamentals(cli, args, expected):
    result = cli("run", *args)
    assert result.exit_code == 2, result.output
    assert expected in result.output


def test_a_relu_hidden_layer_beats_one_linear_neuron_on_the_circle(cli, tmp_path):
    """8 ReLU units reach 0.006-0.021 over seeds 1-4 and 42; the report's 3 learn the circle from
    only 2 of those 4 seeds (units die), so with 3 the test would hang on the draw, not the claim."""
    relu_run, relu = run_and_read(
        cli,
        tmp_path,
        "playground-mlp",
        "--no-save",
        "--set",
        "model.hidden=[8]",
        "--set",
        "model.activation=relu",
    )
    _, linear = run_and_read(
        cli,
        tmp_path,
        "playground-mlp",
        "--no-save",
        "--epochs",
        "30",
        "--set",
        "model.hidden=[]",
        "--set",
        "model.activation=linear",
    )
    assert relu["test_loss"] < 0.177 < linear["test_loss"]
    assert (relu_run / "plots" / "decision_boundary.png").is_file()


@pytest.mark.parametrize("name", study_names())
def test_every_study_file_is_valid_and_its_members_resolve(name):
    study = load_study(name)
    members = expand_study(study)
    assert members


def test_playground_study_describes_the_architecture_grid():
    study = load_study("playground-architectures")
    assert study.base == "playground-mlp"
    assert study.compare.metric == "test_loss" and study.compare.threshold == 0.177
    assert [1] in study.grid["model.hidden"] and [3, 3, 2] in study.grid["model.hidden"]
    assert len(expand_study(study)) == 4 * 1 * 2 * 5
