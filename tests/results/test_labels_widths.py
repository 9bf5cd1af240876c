"""Labels name what the user varied, briefly; every console table fits the terminal; legends stay
readable (issue 29, points 1 and 2)."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml
from fake_runs import make_run
from matplotlib.backends.backend_agg import FigureCanvasAgg

from dlab.framework.factory import resolve_config
from dlab.plots.comparison import tick_label
from dlab.results.curves import FIGURE_SIZE, LEGEND_LABEL_CHARS, runs_figure
from dlab.results.index import expand_paths, load_run
from dlab.results.labels import label_runs, run_labels, short_names
from dlab.results.tables import ellipsize, fit_lines

RATES = (0.1, 0.03, 0.01, 0.003, 0.001)


def cifar_runs(root, rates=RATES, *, extra_sets=()):
    """Fake cnn-cifar10 runs whose config.yaml is the real resolved config (every key a run saves),
    one per learning rate; the middle one also logs to TensorBoard with another backend."""
    folders = []
    for index, rate in enumerate(rates):
        run_dir = make_run(root, run_id=f"20261122-10000{index}-aaaaa{index}", accuracy=0.6 + 0.02 * index)
        sets = [f"train.optimizer.learning_rate={rate}", "train.epochs=2", *extra_sets]
        if index == 2:  # what is logged and how it executes: not part of the config hash
            sets += ["train.tensorboard={histogram_freq: 1}", "train.steps_per_execution=8"]
        (run_dir / "config.yaml").write_text(resolve_config("cnn-cifar10", sets=sets).to_yaml())
        folders.append(run_dir)
    return folders


def test_short_names_are_the_shortest_unambiguous_suffixes():
    assert short_names(["model.hidden", "train.optimizer.learning_rate", "train.batch_size", "seed"]) == {
        "model.hidden": "hidden",
        "train.optimizer.learning_rate": "lr",
        "train.batch_size": "batch",
        "seed": "seed",
    }
    # two keys that would both be "lr" keep more of their path; "seed" is only the top-level seed
    assert short_names(["train.optimizer.learning_rate", "model.lr", "data.seed"]) == {
        "train.optimizer.learning_rate": "optimizer.lr",
        "model.lr": "model.lr",
        "data.seed": "data.seed",
    }
    assert short_names(["model.units", "model.head.units"]) == {
        "model.units": "model.units",
        "model.head.units": "head.units",
    }


def test_labels_leave_out_keys_outside_the_config_hash(tmp_path):
    runs = [load_run(path) for path in cifar_runs(tmp_path / "outputs")]
    assert run_labels(runs) == ["lr=0.1", "lr=0.03", "lr=0.01", "lr=0.003", "lr=0.001"]
    same = [load_run(path) for path in cifar_runs(tmp_path / "same", rates=(0.1, 0.1, 0.1))]
    assert run_labels(same) == ["aaaaa0", "aaaaa1", "aaaaa2"]  # TensorBoard on is not a difference
    two = [load_run(path) for path in cifar_runs(tmp_path / "two", rates=(0.1, 0.01))]
    data = yaml.safe_load((two[1].path / "config.yaml").read_text())
    data["model"]["dense_units"] = [32]
    (two[1].path / "config.yaml").write_text(yaml.safe_dump(data))
    assert run_labels([load_run(run.path) for run in two]) == [
        "dense_units=[64] lr=0.1",
        "dense_units=[32] lr=0.01",
    ]


def test_five_learning_rates_give_short_labels_and_fit_100_columns(cli, tmp_path, monkeypatch):
    """The issue's done-when: `dlab runs` and `dlab compare` over five runs that differ in one
    learning rate show labels of at most 30 characters, every line within 100 columns."""
    cifar_runs(tmp_path / "outputs")
    monkeypatch.setenv("COLUMNS", "100")
    listed = cli("runs")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    assert lines[0].split()[:3] == ["config", "label", "status"]
    assert [line.split()[:2] for line in lines[1:] if line.startswith("cnn")] == [
        ["cnn-cifar10", f"lr={rate}"] for rate in RATES
    ]
    compared = cli("compare", "outputs/cnn-cifar10")
    assert compared.exit_code == 0, compared.output
    lines = compared.output.splitlines()
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    assert lines[0].split() == ["metric", *(f"lr={rate}" for rate in RATES)]
    assert "tensorboard" not in listed.output + compared.output
    rows = json.loads(cli("runs", "-f", "json").output)
    assert all(len(row["run"]) <= 30 and row["label"] == row["run"] for row in rows)
    table = list(csv.DictReader(io.StringIO(cli("compare", "outputs", "-f", "csv").output)))
    assert [row["train.optimizer.learning_rate"] for row in table] == [str(rate) for rate in RATES]


def test_many_runs_of_several_configs_and_long_values_still_fit(cli, tmp_path, monkeypatch):
    root = tmp_path / "outputs"
    long_error = " ".join(["the loss became NaN because the learning rate was far too high"] * 3)
    for index in range(8):  # a sweep: one row per run, parameters by their short names
        run_dir = make_run(root, config="mlp-imdb", run_id=f"20261122-11000{index}-bbbbb{index}")
        data = yaml.safe_load((run_dir / "config.yaml").read_text())
        data["model"] = {"hidden": [16] * (index + 1), "dropout": round(0.1 * index, 1)}
        (run_dir / "config.yaml").write_text(yaml.safe_dump(data))
    failed = make_run(root, run_id="20261122-120000-cccccc", status="failed")
    metrics = json.loads((failed / "metrics.json").read_text())
    metrics["error"] = {"type": "RuntimeError", "message": long_error}
    (failed / "metrics.json").write_text(json.dumps(metrics))
    monkeypatch.setenv("COLUMNS", "100")
    for args in (["runs"], ["compare", "outputs/mlp-imdb"], ["check", "outputs"]):
        result = cli(*args)
        lines = result.output.splitlines()
        assert result.exit_code in (0, 1, 3) and all(len(line) <= 100 for line in lines), (
            args,
            result.output,
        )
    compared = cli("compare", "outputs/mlp-imdb").output  # 8 runs: a row each, a column per metric
    assert compared.splitlines()[0].split()[:4] == ["run", "status", "test.loss", "test.accuracy"]
    assert "dropout=0.4 hidden=[16,16,16,16,16]" in compared  # the label says what the columns would
    assert "note: 9 more metrics do not fit the terminal (params.total," in compared
    every = cli("compare", "outputs/mlp-imdb", "-m", "*").output  # named: all shown, folded to fit
    assert "more metrics" not in every and all(len(line) <= 100 for line in every.splitlines())
    listed = json.loads(cli("runs", "-f", "json").output)
    # the whole error where a program reads it
    assert f"RuntimeError: {long_error}" in {row["error"] for row in listed}
    assert "..." in cli("runs").output  # and cut with an ellipsis in the table


def test_legends_sit_below_the_axes_with_short_labels(tmp_path):
    folders = cifar_runs(
        tmp_path / "outputs", rates=(0.1, 0.05, 0.03, 0.01, 0.005, 0.003, 0.001, 3e-4, 1e-4, 3e-5)
    )
    runs = expand_paths([str(folder) for folder in folders])
    label_runs(runs)
    figure = runs_figure(runs, "loss", "loss: 10 runs")
    axes = figure.axes[0]
    legend = axes.get_legend()
    texts = [text.get_text() for text in legend.get_texts()]
    assert texts[:10] == [run.label for run in runs] and texts[10:] == ["train", "validation"]
    assert all(len(text) <= 30 for text in texts)
    assert tuple(figure.get_size_inches())[0] == FIGURE_SIZE[0]
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    columns = {round(text.get_window_extent(renderer).x0) for text in legend.get_texts()}
    assert len(columns) > 1  # several columns, not one entry per line beside the plot
    box, plot = legend.get_window_extent(renderer), axes.get_window_extent(renderer)
    assert box.y1 < plot.y0  # below the axes, so the plot keeps the figure's whole width
    assert plot.width > 0.7 * figure.bbox.width  # beside it, ten labels took a third of the width


def test_long_labels_are_cut_in_legends_and_wrapped_on_bars(tmp_path):
    root = tmp_path / "outputs"
    for index, name in enumerate(("a-config-with-a-rather-long-name-for-a-legend", "short")):
        make_run(root, config=name, run_id=f"20261122-10000{index}-aaaaa{index}")
    runs = expand_paths([str(root)])
    label_runs(runs)
    texts = [text.get_text() for text in runs_figure(runs, "loss", "t").axes[0].get_legend().get_texts()]
    assert texts[0] == ellipsize(runs[0].label, LEGEND_LABEL_CHARS) and texts[0].endswith("...")
    assert len(texts[0]) == LEGEND_LABEL_CHARS and texts[1] == "short"
    wrapped = tick_label("playground-mlp model.hidden=[4,2] train.optimizer.learning_rate=0.01 seed=3")
    assert len(wrapped.splitlines()) == 2 and wrapped.endswith("...")


def test_fit_lines_wraps_under_its_indent_and_leaves_pipes_alone(monkeypatch):
    import os

    from dlab.results import tables

    text = "note: " + "word " * 30 + "\n  test_accuracy: " + "source " * 20 + "\n"
    wrapped = fit_lines(text, 40)
    assert all(len(line) <= 40 for line in wrapped.splitlines())
    assert wrapped.split() == text.split() and wrapped.endswith("\n")
    assert any(line.startswith("    source") for line in wrapped.splitlines())  # indented below its line
    monkeypatch.delenv("COLUMNS", raising=False)  # a pipe: nothing wraps
    monkeypatch.setattr(tables.shutil, "get_terminal_size", lambda fallback: os.terminal_size(fallback))
    assert fit_lines(text) == text
    assert ellipsize("abcdef", 5) == "ab..." and ellipsize("ab", 5) == "ab" and ellipsize("abcdef", 2) == "ab"


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_full_values_stay_in_json_and_csv(cli, tmp_path, fmt):
    cifar_runs(tmp_path / "outputs")
    checked = cli("check", "outputs", "-f", fmt)
    assert checked.exit_code == 3
    if fmt == "json":
        rows = json.loads(checked.output)["checks"]
        assert rows[0]["id"] == "cnn-cifar10/20261122-100000-aaaaa0" and rows[0]["run"] == "lr=0.1"
    else:
        rows = list(csv.DictReader(io.StringIO(checked.output)))
        assert rows[0]["id"] == "cnn-cifar10/20261122-100000-aaaaa0" and rows[0]["metric"] == "test.accuracy"


def test_dlab_list_fits_100_columns(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    assert all(len(line) <= 100 for line in listed.output.splitlines()), max(
        listed.output.splitlines(), key=len
    )
