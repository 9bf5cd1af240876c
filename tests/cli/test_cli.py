"""What users do through the CLI (Typer's CliRunner): commands, exit codes, messages, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

METRICS_FIELDS = {
    "schema_version",
    "status",
    "error",
    "experiment",
    "config",
    "config_hash",
    "seed",
    "smoke",
    "data",
    "started_at",
    "finished_at",
    "wall_time_s",
    "device",
    "backend",
    "versions",
    "run_dir",
    "params",
    "test",
    "timing",
    "epochs_run",
    "final",
    "best_epoch",
}


def only_run_dir(root: Path, name: str = "cnn-cifar10") -> Path:
    runs = list((root / name).iterdir())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("command", [[], ["list"], ["show"], ["run"]])
def test_help_is_written_for_people(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_list_shows_name_family_dataset_and_description(cli):
    result = cli("list")
    assert result.exit_code == 0
    rows = result.output.splitlines()
    line = next(row for row in rows if row.startswith("  cnn-cifar10 "))
    heading = next(row for row in reversed(rows[: rows.index(line)]) if not row.startswith(" ") and row)
    assert heading.startswith("convolutional networks (")  # grouped by family
    assert "cifar10" in line and "CIFAR-10 CNN" in line


def test_show_prints_the_resolved_yaml(cli):
    result = cli("show", "cnn-cifar10-sgd", "--epochs", "3", "--set", "train.batch_size=16")
    assert result.exit_code == 0
    shown = yaml.safe_load(result.output)
    assert shown["name"] == "cnn-cifar10-sgd"
    assert shown["train"]["epochs"] == 3 and shown["train"]["batch_size"] == 16
    assert shown["train"]["optimizer"]["name"] == "sgd"
    assert shown["model"]["filters"] == [32, 64, 64]


def test_smoke_run_writes_the_whole_run_directory(cli, tmp_path):
    result = cli("run", "cnn-cifar10", "--smoke", "--device", "cpu")
    assert result.exit_code == 0, result.output
    run = only_run_dir(tmp_path / "outputs")
    assert run.name[:15].replace("-", "").isdigit()
    for name in (
        "config.yaml",
        "history.csv",
        "history.json",
        "metrics.json",
        "model.keras",
        "summary.txt",
        "run.log",
        "plots/loss.png",
        "plots/accuracy.png",
    ):
        assert (run / name).is_file(), name
        assert (run / name).stat().st_size > 0, name
    assert not list(run.glob(".*")), "temporary files left behind"

    metrics = json.loads((run / "metrics.json").read_text())
    assert METRICS_FIELDS <= set(metrics)
    assert metrics["status"] == "completed" and metrics["error"] is None
    assert metrics["experiment"] == "convnet" and metrics["config"] == "cnn-cifar10"
    assert metrics["params"]["total"] == 122_570
    assert metrics["data"]["source"] == "synthetic" and metrics["data"]["train_samples"] == 2048
    assert metrics["device"]["requested"] == "cpu" and metrics["device"]["used"] == "cpu"
    assert metrics["backend"] == "tensorflow" and metrics["versions"]["keras"].startswith("3.")
    assert metrics["epochs_run"] == 1
    assert metrics["timing"]["train_samples_per_s"] > 0
    assert metrics["best_epoch"]["val_loss"]["epoch"] == 1
    assert metrics["test"]["accuracy"] > 0.2, "no better than chance (0.1) on learnable data"

    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["source"] == "synthetic"
    assert "Total params: 122,570" in (run / "summary.txt").read_text()
    log = (run / "run.log").read_text()
    assert "run directory" in log and "val_accuracy" in log and "\x1b[" not in log
    assert "test: accuracy" in result.output and run.name in result.output


def test_saved_config_runs_again_with_the_same_results(cli, tmp_path):
    assert cli("run", "cnn-cifar10", "--smoke", "--no-save", "--seed", "5").exit_code == 0
    first = only_run_dir(tmp_path / "outputs")
    assert not (first / "model.keras").exists()  # --no-save
    result = cli("run", str(first / "config.yaml"), "--no-save", "--out", "again")
    assert result.exit_code == 0, result.output
    second = only_run_dir(tmp_path / "again")
    history = [json.loads((run / "history.json").read_text()) for run in (first, second)]
    assert history[0] == history[1], "same seed on CPU must give identical histories"
    hashes = [json.loads((run / "metrics.json").read_text())["config_hash"] for run in (first, second)]
    assert hashes[0] == hashes[1]


def test_dir_and_file_sources_through_the_cli(cli, tmp_path, cifar_npz, image_tree):
    result = cli(
        "run",
        "cnn-cifar10",
        "--epochs",
        "1",
        "--no-save",
        "--set",
        "data.source=file",
        "--set",
        f"data.path={cifar_npz}",
    )
    assert result.exit_code == 0, result.output
    result = cli(
        "run",
        "cnn-cifar10",
        "--epochs",
        "1",
        "--no-save",
        "--batch-size",
        "4",
        "--set",
        "data.source=dir",
        "--set",
        f"data.path={image_tree}",
    )
    assert result.exit_code == 0, result.output
    runs = sorted((tmp_path / "outputs" / "cnn-cifar10").iterdir())
    sources = {json.loads((r / "metrics.json").read_text())["data"]["source"]: r for r in runs}
    assert set(sources) == {"file", "dir"}
    tree_metrics = json.loads((sources["dir"] / "metrics.json").read_text())
    assert tree_metrics["data"]["num_classes"] == 3  # class names come from the folders
    assert tree_metrics["params"]["total"] == 122_570 - 7 * 65  # a 3-way head, not 10


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "cnn-cifar1"], "Did you mean 'cnn-cifar10'"),
        (["run", "cnn-cifar10", "--epochs", "-3"], "Invalid value for 'train.epochs' (from --epochs): -3"),
        (["run", "cnn-cifar10", "--set", "train.batch_size=abc"], "Invalid value for 'train.batch_size'"),
        (["run", "cnn-cifar10", "--set", "train.epoch=3"], "Did you mean 'epochs'"),
        (["run", "cnn-cifar10", "--set", "train.epochs"], "--set expects KEY=VALUE"),
        (["run", "cnn-cifar10", "--set", "data.source=file"], "needs data.path"),
        (["run", "cnn-cifar10", "--set", "data.source=dir", "--set", "data.path=."], "has no train/ folder"),
        (["run", "cnn-cifar10", "--device", "gpu"], "--device gpu: TensorFlow sees no GPU"),
        (["run", "cnn-cifar10", "--device", "tpu"], "Invalid --device 'tpu'"),
        (["run", "cnn-cifar10", "--smoke", "--out", "blocker/outputs"], "Cannot write run outputs under"),
        (["show", "cnn-cifar10", "--set", "model.filterz=[1]"], "Unknown key 'model.filterz'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_trains_nothing(cli, tmp_path, args, expected):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("outputs/*/*")), "a run directory was created"


def test_npz_without_keys_through_the_cli(cli, tmp_path):
    import numpy as np

    np.savez(tmp_path / "bad.npz", x_train=np.zeros((2, 32, 32, 3), np.uint8))
    result = cli("run", "cnn-cifar10", "--set", "data.source=file", "--set", "data.path=bad.npz")
    assert result.exit_code == 2 and "lacks the arrays" in result.output


def test_yaml_syntax_error_through_the_cli(cli, tmp_path):
    (tmp_path / "broken.yaml").write_text("experiment: convnet\ntrain: {epochs: 3\n")
    result = cli("run", "broken.yaml")
    assert result.exit_code == 2
    assert "YAML syntax error in broken.yaml line" in result.output


def test_debug_shows_the_traceback(cli):
    result = cli("run", "cnn-cifar1", "--debug")
    assert result.exit_code != 0
    assert result.exception is not None  # raised instead of printed


def test_a_failure_while_training_is_recorded(cli, tmp_path, monkeypatch):
    from dlab import training

    def explode(*args, **kwargs):
        raise RuntimeError("simulated failure in fit")

    monkeypatch.setattr(training, "fit_and_evaluate", explode)
    result = cli("run", "cnn-cifar10", "--smoke")
    assert result.exit_code == 1
    assert "simulated failure in fit" in result.output
    run = only_run_dir(tmp_path / "outputs")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "failed"
    assert metrics["error"] == {"type": "RuntimeError", "message": "simulated failure in fit"}
    assert "Traceback" in (run / "run.log").read_text()


def test_early_stopping_and_checkpoint_of_the_best_epoch(cli, tmp_path):
    result = cli(
        "run",
        "cnn-cifar10",
        "--smoke",
        "--epochs",
        "4",
        "--no-save",
        "--set",
        "train.early_stopping={monitor: val_accuracy, patience: 0, min_delta: 0.5}",
        "--set",
        "train.checkpoint={monitor: val_loss}",
    )
    assert result.exit_code == 0, result.output
    run = only_run_dir(tmp_path / "outputs")
    metrics = json.loads((run / "metrics.json").read_text())
    history = json.loads((run / "history.json").read_text())
    assert metrics["epochs_run"] == 2 == len(history["val_loss"])  # stopped early
    best = min(range(2), key=lambda i: history["val_loss"][i])
    assert metrics["checkpoint"]["epoch"] == best + 1
    # validation is the test split here, so the evaluated best model reproduces its val loss
    assert metrics["test"]["loss"] == pytest.approx(history["val_loss"][best], rel=1e-4)
    assert not (run / "checkpoint-best.keras").exists()


def test_offline_download_exits_2_before_creating_a_run(cli, tmp_path, monkeypatch):
    import keras

    def offline():
        raise Exception(
            "URL fetch failure on https://www.cs.toronto.edu/~kriz/"
            "cifar-10-python.tar.gz: None -- [Errno -2] Name or service not known"
        )

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    result = cli("run", "cnn-cifar10")
    assert result.exit_code == 2
    assert "Could not download the cifar10 dataset" in result.output and "--smoke" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "perceptron-and", "--seed", "-1"], "Invalid value for 'seed'"),
        (["run", "perceptron-and", "--set", "name=../../escape"], "Invalid value for 'name'"),
        (["run", "perceptron-and", "--device", "foo"], "Invalid --device 'foo'"),
        (["run", "mlp-mnist", "--smoke", "--set", "model.activation=relux"], "cannot be built"),
        (["run", "playground-mlp", "--set", "train.metrics=[bogus]"], "Unknown metric 'bogus'"),
    ],
)
def test_more_bad_input_exits_2_before_anything_is_created(cli, tmp_path, args, expected):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert not list(tmp_path.glob("outputs/*/*")) and not (tmp_path.parent / "escape").exists()


def test_kfold_with_the_logit_metrics_of_higgs(cli, tmp_path):
    result = cli("run", "higgs-tiny", "--smoke", "--no-save", "--set", "train.kfold=2")
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "higgs-tiny").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["kfold"]["mean_curve"]["metric"] == "val_binary_crossentropy"
