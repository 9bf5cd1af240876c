"""A console that tells the truth and run.log that has all of it: the summary lines end both, and a
long NumPy run prints a bounded number of epochs into a log (every epoch stays in history.csv)."""

from __future__ import annotations

import csv

from dlab.runtime.console import EPOCH_LINES, shown_epochs


def run_dir_of(output: str, root):
    return root / output.strip().splitlines()[-1].removeprefix("run directory: ")


def test_run_log_ends_with_the_summary_the_console_ends_with(cli, tmp_path):
    result = cli("run", "perceptron-and", "--epochs", "5")
    assert result.exit_code == 0, result.output
    console = result.output.strip().splitlines()
    log = (run_dir_of(result.output, tmp_path) / "run.log").read_text().strip().splitlines()
    assert [line.split(":")[0] for line in console[-3:]] == ["status", "test", "run directory"]
    assert log[-3:] == console[-3:]


def test_a_long_numpy_run_prints_a_bounded_number_of_epochs_into_a_log(cli, tmp_path):
    result = cli("run", "xor-mlp")  # 2,000 epochs; the test's stdout is no terminal
    assert result.exit_code == 0, result.output
    epochs = [line for line in result.output.splitlines() if line.startswith("Epoch ")]
    assert len(epochs) == EPOCH_LINES + 1 and len(result.output.splitlines()) < 40
    assert epochs[0].startswith("Epoch 1/2000") and epochs[-1].startswith("Epoch 2000/2000")
    assert "(21 of 2000 epochs shown; history.csv has every one)" in result.output
    with open(run_dir_of(result.output, tmp_path) / "history.csv", newline="") as history:
        assert len(list(csv.DictReader(history))) == 2000


def test_short_runs_show_every_epoch_and_long_ones_an_even_spread():
    assert shown_epochs(21) == set(range(1, 22))
    spread = sorted(shown_epochs(2000))
    assert spread[:3] == [1, 100, 200] and spread[-1] == 2000 and len(spread) == 21
