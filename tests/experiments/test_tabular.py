"""Tables: k-fold without leakage, the Higgs stream reader, the fraud autoencoder's thresholds."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from dlab.errors import ConfigError, DataError
from dlab.framework.factory import resolve_config
from dlab.framework.registry import get


def test_kfold_splits_validate_every_sample_exactly_once():
    from dlab.training import kfold_splits

    splits = kfold_splits(103, 4)
    validated = np.concatenate([val for _, val in splits])
    assert sorted(validated.tolist()) == list(range(103))
    for train, val in splits:
        assert not set(train) & set(val) and len(train) + len(val) == 103
    with pytest.raises(ConfigError):
        kfold_splits(3, 4)


def test_normalization_is_adapted_on_the_fitted_rows_only():
    """A fold's model standardizes with its training folds' statistics, not the held-out fold's."""
    from dataclasses import replace

    config = resolve_config("kfold-boston", smoke=True)
    experiment = get(config.experiment)()
    data = experiment.load_data(config)
    fold = replace(data, x_train=data.x_train[:100], y_train=data.y_train[:100])
    model = experiment.build_model(config, fold)
    mean = np.asarray(model.get_layer("normalize").mean).reshape(-1)
    np.testing.assert_allclose(mean, data.x_train[:100].mean(axis=0), rtol=1e-4)
    assert not np.allclose(mean, data.x_train.mean(axis=0), rtol=1e-3)


def test_kfold_run_records_folds_and_their_statistics(cli, tmp_path):
    result = cli("run", "kfold-boston", "--smoke", "--epochs", "3", "--no-save")
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "kfold-boston").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    folds = json.loads((run / "folds.json").read_text())
    assert len(folds) == 4 and metrics["kfold"]["k"] == 4
    maes = [fold["history"]["val_mae"][-1] for fold in folds]  # the manual computation
    assert metrics["kfold"]["mean"]["mae"] == pytest.approx(np.mean(maes))
    assert metrics["kfold"]["std"]["mae"] == pytest.approx(np.std(maes))
    curve = np.mean([fold["history"]["val_mae"] for fold in folds], axis=0)
    assert metrics["kfold"]["mean_curve"]["best_epoch"] == int(np.argmin(curve)) + 1
    assert sum(fold["val_samples"] for fold in folds) == metrics["data"]["train_samples"]
    assert metrics["epochs_run"] == 3  # the final model
    assert (run / "plots" / "kfold_val_mae.png").is_file()
    assert "mae" in metrics["test"]


def test_kfold_larger_than_the_samples_is_refused(cli):
    result = cli("run", "kfold-boston", "--smoke", "--set", "train.kfold=100000")
    assert result.exit_code == 2 and "train.kfold=100000 is larger than" in result.output


def test_kfold_below_two_is_refused(cli):
    result = cli("run", "kfold-boston", "--smoke", "--set", "train.kfold=1")
    assert result.exit_code == 2 and "train.kfold" in result.output


def write_higgs(path, rows=50, columns=29):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(rows, columns))
    table[:, 0] = rng.integers(0, 2, rows)
    lines = "\n".join(",".join(f"{v:.6e}" for v in row) for row in table) + "\n"
    with gzip.open(path, "wt") as handle:
        handle.write(lines)
    return table.astype(np.float32)


def test_higgs_reader_returns_exactly_the_first_rows(tmp_path):
    from dlab.data.datasets.higgs import read_rows

    table = write_higgs(tmp_path / "HIGGS.csv.gz")
    rows = read_rows(tmp_path / "HIGGS.csv.gz", 17)
    assert rows.shape == (17, 29)
    np.testing.assert_allclose(rows, table[:17], rtol=1e-5)


def test_higgs_reader_rejects_the_wrong_column_count(tmp_path):
    from dlab.data.datasets.higgs import read_rows

    write_higgs(tmp_path / "bad.csv.gz", columns=12)
    with pytest.raises(DataError, match="has 12 columns; HIGGS rows have 29"):
        read_rows(tmp_path / "bad.csv.gz", 5)


def test_higgs_run_from_a_local_file_plots_the_schedule(cli, tmp_path):
    write_higgs(tmp_path / "HIGGS.csv.gz", rows=300)
    result = cli(
        "run",
        "higgs-tiny",
        "--epochs",
        "2",
        "--no-save",
        "--set",
        "data.source=file",
        "--set",
        f"data.path={tmp_path / 'HIGGS.csv.gz'}",
        "--set",
        "data.train_samples=200",
        "--set",
        "data.test_samples=50",
        "--set",
        "data.validation=50",
    )
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "higgs-tiny").iterdir()
    history = json.loads((run / "history.json").read_text())
    assert "val_binary_crossentropy" in history and "accuracy" in history
    assert (run / "plots" / "learning_rate.png").is_file()


def test_choose_threshold_never_needs_test_labels():
    """Thresholds are a function of validation errors and labels only: the test data is
    not an argument, so it cannot leak; best_f1 picks the error that separates them."""
    from dlab.experiments.tabular import ThresholdConfig, choose_threshold

    errors = np.array([0.1, 0.2, 0.15, 0.9, 0.8])
    labels = np.array([0, 0, 0, 1, 1])
    value, how = choose_threshold(ThresholdConfig(strategy="best_f1"), errors, labels)
    assert 0.2 < value <= 0.8 and "best F1" in how
    value, _ = choose_threshold(ThresholdConfig(strategy="percentile", percentile=50), errors, labels)
    assert value == pytest.approx(0.15)
    with pytest.raises(DataError, match="needs fraud rows in the validation"):
        choose_threshold(ThresholdConfig(strategy="best_f1"), errors[:3], labels[:3])
    value, how = choose_threshold(
        ThresholdConfig(strategy="best_f1", fallback="percentile"), errors[:3], labels[:3]
    )
    assert "percentile" in how


def test_anomaly_metrics_equal_scikit_learn():
    from dlab.experiments.tabular import anomaly_report
    from sklearn import metrics

    labels = np.array([0, 0, 0, 0, 1, 1, 0, 1])
    errors = np.array([0.1, 0.4, 0.2, 0.05, 0.5, 0.3, 0.6, 0.9])
    report = anomaly_report(labels, errors, threshold=0.35)
    predicted = (errors > 0.35).astype(int)
    assert report["precision"] == metrics.precision_score(labels, predicted)
    assert report["recall"] == metrics.recall_score(labels, predicted)
    assert report["f1"] == metrics.f1_score(labels, predicted)
    assert report["roc_auc"] == metrics.roc_auc_score(labels, errors)
    assert report["confusion_matrix"] == [[3, 2], [1, 2]]


def test_fraud_autoencoder_smoke_run(cli, tmp_path):
    result = cli("run", "autoencoder-fraud", "--smoke", "--no-save")
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "autoencoder-fraud").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["params"]["total"] == 1_168
    assert metrics["anomaly_detection"]["roc_auc"] > 0.8  # frauds reconstruct worse
    for name in ("error_histogram", "roc_pr_curves", "confusion_matrix", "loss"):
        assert (run / "plots" / f"{name}.png").is_file(), name


def test_fraud_without_a_path_says_where_to_get_the_data(cli):
    result = cli("run", "autoencoder-fraud")
    assert result.exit_code == 2
    assert "kaggle.com" in result.output and "--set data.path=" in result.output


def test_fraud_csv_without_the_class_column(cli, tmp_path):
    (tmp_path / "cc.csv").write_text("Time,V1,Amount\n0,1.0,3.5\n1,2.0,4.0\n")
    result = cli("run", "autoencoder-fraud", "--set", f"data.path={tmp_path / 'cc.csv'}")
    assert result.exit_code == 2 and "has no column 'Class'" in result.output


def test_the_threshold_does_not_change_when_the_test_labels_do(tmp_path):
    """If the threshold read the test labels, scrambling them would move it."""
    from dataclasses import replace

    from dlab.run.context import RunContext
    from dlab.run.directory import RunDir
    from dlab.runtime.device import DeviceInfo

    config = resolve_config("autoencoder-fraud", smoke=True)
    experiment = get(config.experiment)()
    data = experiment.load_data(config)
    model = experiment.prepare(config, data)
    thresholds = []
    for labels in (data.test_labels, 1 - data.test_labels, np.zeros_like(data.test_labels)):
        ctx = RunContext(
            config=config,
            run_dir=RunDir(tmp_path / f"run{len(thresholds)}"),
            device=DeviceInfo("cpu", "cpu", "test", 0),
        )
        ctx.run_dir.path.mkdir()
        experiment.figures(ctx, model, replace(data, test_labels=labels), result=None)
        thresholds.append(ctx.summary["threshold"]["value"])
    assert thresholds[0] == thresholds[1] == thresholds[2]


@pytest.mark.parametrize(
    "sets, expected",
    [
        (["model.threshold.strategy=fixed"], "strategy=fixed needs a value"),
        (["data.validation=test"], "validates on a fraction"),
        (["data.samples=3000", "data.validation=0.01"], "best_f1 needs fraud rows"),
    ],
)
def test_fraud_config_mistakes_stop_before_training(cli, tmp_path, sets, expected):
    args = ["run", "autoencoder-fraud", "--smoke"]
    for assignment in sets:
        args += ["--set", assignment]
    result = cli(*args)
    assert result.exit_code == 2 and expected in result.output
    assert not list(tmp_path.glob("outputs/*/*")), "a run directory was created"
