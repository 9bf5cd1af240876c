"""Labels, widths, comparable checks and value origins on real runs (perceptron-and: NumPy, ~2 s each),
through the CLI as a user types it: five learning rates, and one run with fewer epochs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dlab.cli import app
from dlab.results.curves import runs_figure
from dlab.results.index import expand_paths
from dlab.results.labels import label_runs

RATES = ("0.1", "0.3", "1.0", "3.0", "10.0")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """outputs/ with five runs that differ in one learning rate; short/ with one --epochs 3 run."""
    root = tmp_path_factory.mktemp("issue29")
    runner = CliRunner()
    for rate in RATES:
        args = ["run", "perceptron-and", "--set", f"train.optimizer.learning_rate={rate}"]
        result = runner.invoke(app, [*args, "--out", str(root / "outputs"), "--no-save", "-q"])
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["run", "perceptron-and", "--epochs", "3", "--out", str(root / "short"), "-q"]
    )
    assert result.exit_code == 0, result.output
    return root


def test_runs_compare_and_report_legend_show_short_labels_within_100_columns(cli, trained, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    outputs = str(trained / "outputs")
    listed = cli("runs", "--out", outputs)
    compared = cli("compare", outputs)
    for result in (listed, compared):
        assert result.exit_code == 0, result.output
        assert all(len(line) <= 100 for line in result.output.splitlines()), result.output
    labels = [f"lr={rate}" for rate in RATES]
    rows = [line.split()[:2] for line in listed.output.splitlines() if line.startswith("perceptron-and")]
    # runs started in the same second are listed in folder-name order, which is random: compare sets
    assert sorted(rows) == sorted(["perceptron-and", label] for label in labels)
    header = compared.output.splitlines()[0].split()
    assert header[0] == "metric" and sorted(header[1:]) == sorted(labels)
    runs = expand_paths([outputs])
    label_runs(runs)
    legend = runs_figure(runs, "loss", "loss").axes[0].get_legend()
    shown = [text.get_text() for text in legend.get_texts()]
    assert sorted(shown[:5]) == sorted(labels) and all(len(text) <= 30 for text in shown)
    report = cli("report", outputs, "-o", "report.html")
    assert report.exit_code == 0, report.output


def test_diff_names_set_flag_and_file_origins(cli, trained):
    first = sorted((trained / "outputs" / "perceptron-and").iterdir())[0]  # lr=0.1 by --set
    short = next((trained / "short" / "perceptron-and").iterdir())  # --epochs 3, lr from the file
    result = cli("diff", str(first), str(short), "-f", "json")
    assert result.exit_code == 0, result.output
    origins = {
        row["key"]: (row["left_from"], row["right_from"]) for row in json.loads(result.output)["config"]
    }
    assert origins == {
        "train.epochs": ("perceptron-and.yaml", "--epochs"),
        "train.optimizer.learning_rate": ("--set", "perceptron-and.yaml"),
    }


def test_check_says_not_comparable_for_fewer_epochs_and_judges_the_rest(cli, trained):
    short = cli("check", str(trained / "short"))
    assert short.exit_code == 3, short.output
    assert "not comparable (epochs 3, not 70)" in " ".join(short.output.split())
    workshop = next(
        path for path in (trained / "outputs" / "perceptron-and").iterdir() if "1.0" in _rate(path)
    )
    judged = cli("check", str(workshop))
    assert judged.exit_code == 0 and "within" in judged.output, judged.output


def _rate(run_dir) -> str:
    return str(json.loads((run_dir / "metrics.json").read_text())["provenance"]["overrides"])
