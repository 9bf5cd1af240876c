"""Console output fit for CI, ``dlab list`` by family, flags without ``<bool>``, shell completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dlab.runtime.console import default_verbose, epoch_line, resolve_verbose


def test_the_default_verbosity_follows_where_stdout_goes(tmp_path):
    with open(tmp_path / "log.txt", "w") as not_a_terminal:
        assert default_verbose(not_a_terminal) == 2
    assert resolve_verbose(None, quiet=True) == 2  # for run.log: the console gets the summary only
    assert resolve_verbose(1) == 1
    assert (
        epoch_line(3, 70, {"loss": 0.5, "accuracy": 0.75})
        == "Epoch 3/70 - cost: 0.500000 - accuracy: 0.750000"
    )


def test_perceptron_prints_its_cost_per_epoch(cli):
    result = cli("run", "perceptron-and", "--epochs", "5")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Epoch ")]
    assert len(lines) == 5 and lines[0].startswith("Epoch 1/5 - cost: 0.693147")
    assert "status: completed" in result.output


def test_quiet_prints_the_summary_only_and_run_log_keeps_the_rest(cli, tmp_path):
    result = cli("run", "perceptron-and", "--epochs", "5", "--quiet")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("status: completed") and lines[-1].startswith("run directory: ")
    assert len(lines) == 3 and "Epoch" not in result.output
    run = tmp_path / lines[-1].removeprefix("run directory: ")
    log = (run / "run.log").read_text()
    assert "Epoch 5/5 - cost:" in log and "dlab: run directory" in log


def test_verbose_zero_prints_no_epochs(cli):
    result = cli("run", "perceptron-and", "--epochs", "5", "--verbose", "0")
    assert result.exit_code == 0 and "Epoch" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "perceptron-and", "--verbose", "3"], "--verbose 3: Keras knows 0 (silent), 1"),
        (["sweep", "perceptron-and", "--verbose", "3"], "--verbose 3"),
        (["tune", "tune-mnist-mlp", "--smoke", "--verbose", "-1"], "--verbose -1"),
    ],
)
def test_a_verbose_level_keras_does_not_have_is_refused(cli, tmp_path, args, message):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("metrics.json"))


@pytest.mark.subprocess
def test_keras_output_to_a_pipe_has_no_redraws(tmp_path):
    """A real `dlab run` whose stdout is a pipe: one line per epoch, no \\b, \\r or colour codes."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "dlab", "run", "mlp-mnist", "--smoke", "--epochs", "2", "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "\b" not in done.stdout and "\r" not in done.stdout and "\x1b[" not in done.stdout
    assert "Epoch 2/2" in done.stdout and " - loss: " in done.stdout
    (log,) = (tmp_path / "out").glob("mlp-mnist/*/run.log")
    assert "\b" not in log.read_text() and "\r" not in log.read_text()


# --------------------------------------------------------------------------- dlab list


def test_list_groups_by_family_and_wraps_to_80_columns(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "from scratch (NumPy) (" in result.output and "text classification (" in result.output
    from dlab import api

    words = " ".join(result.output.split())
    for row in api.list_experiments():
        assert " ".join(row.description.split()) in words, row.name  # wrapped, never cut
    assert "..." not in result.output


def test_list_filters_a_family_and_speaks_json_and_names(cli):
    names = cli("list", "--family", "time series", "--format", "names")
    assert names.exit_code == 0, names.output
    assert "lstm-jena" in names.output.split() and "mlp-mnist" not in names.output.split()
    rows = json.loads(cli("list", "--format", "json", "--family", "from scratch").output)
    assert {row["family"] for row in rows} == {"from scratch (NumPy)"}
    assert {"name", "family", "dataset", "description"} <= set(rows[0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "--family", "tabulr"], "Did you mean 'tabular'"),
        (["list", "--format", "xml"], "table, json"),
    ],
)
def test_list_refuses_an_unknown_family_or_format(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2 and message in result.output


def test_flags_show_no_bool_type(cli):
    for command in ("run", "sweep", "tune", "list", "tensorboard", "mlflow-sync"):
        result = cli(command, "--help")
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.output, command
    assert "--install-completion" in cli("--help").output


# --------------------------------------------------------------------------- completion


@pytest.mark.subprocess
def test_completion_offers_config_names_studies_and_run_directories(tmp_path, complete):
    assert complete("dlab run cnn-ci") == ["cnn-cifar10", "cnn-cifar10-sgd"]
    assert "imdb-capacity" in complete("dlab sweep imdb-c")
    run = tmp_path / "outputs" / "mlp-mnist" / "20261130-000000-abcdef"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text("{}")
    assert complete("dlab tensorboard outputs/mlp") == ["outputs/mlp-mnist/"]
    assert complete("dlab mlflow-sync outputs/mlp-mnist/") == [f"outputs/mlp-mnist/{run.name}/"]
