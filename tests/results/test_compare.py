"""dlab compare on fake run directories: tables, formats, baseline, gates, sweeps, curves, bad input."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fake_runs import make_run

from dlab import api
from dlab.results.index import expand_paths, flatten_metrics


@pytest.fixture
def two_runs(tmp_path):
    outputs = tmp_path / "outputs"
    old = make_run(outputs, run_id="20261122-100000-aaaaaa", accuracy=0.714, wall_time=100.0)
    new = make_run(outputs, run_id="20261122-110000-bbbbbb", accuracy=0.700, wall_time=130.0, loss=0.95)
    return old, new


def test_metric_names_are_dotted_paths_of_numbers_in_metrics_json():
    flat = flatten_metrics(
        {
            "test": {"accuracy": 0.7, "names": ["a"]},
            "final": {"val": {"loss": 0.5}},
            "wall_time_s": 3,
            "smoke": True,
            "seed": 42,
            "data": {"train_samples": 10},
            "flag": False,
            "nan": float("nan"),
            "final_cost": 0.18,
        }
    )
    assert flat == {"test.accuracy": 0.7, "final.val.loss": 0.5, "wall_time_s": 3, "final_cost": 0.18}


def test_default_table_shows_every_shared_metric_one_row_each(cli, two_runs):
    old, new = two_runs
    result = cli("compare", str(old), str(new))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "metric",
        "aaaaaa",
        "bbbbbb",
    ]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["test.accuracy"] == ["0.714", "0.7"]
    assert rows["wall_time_s"] == ["100", "130"]
    for name in (
        "test.loss",
        "final.val.loss",
        "final.train.accuracy",
        "params.total",
        "timing.train_samples_per_s",
        "epochs_run",
    ):
        assert name in rows, name
    assert "seed" not in rows and "data.train_samples" not in rows  # descriptions, not results


def test_baseline_adds_differences(cli, two_runs):
    old, new = two_runs
    result = cli(
        "compare",
        str(new),
        "--baseline",
        str(old),
        "-m",
        "test.accuracy",
        "-m",
        "wall_time_s",
        "-m",
        "params.total",
    )
    assert result.exit_code == 0, result.output
    assert "(baseline)" in result.output.splitlines()[0]
    rows = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert "0.7 (-0.014, -2.0%)" in rows["test.accuracy"]
    assert "130 (+30, +30.0%)" in rows["wall_time_s"]
    assert "122570 (same)" in rows["params.total"]


def test_passing_gates_exit_0_and_failing_gates_exit_1_with_the_comparisons(cli, two_runs):
    old, new = two_runs
    passing = cli(
        "compare",
        str(new),
        "--baseline",
        str(old),
        "--fail-if",
        "test.accuracy < baseline - 0.05",
        "--fail-if",
        "wall_time_s > 2 * baseline",
    )
    assert passing.exit_code == 0, passing.output
    assert "gates: all 2 checks passed" in passing.output

    failing = cli(
        "compare",
        str(new),
        "--baseline",
        str(old),
        "--fail-if",
        "test.accuracy < baseline - 0.01",
        "--fail-if",
        "wall_time_s > 1.2 * baseline",
        "--fail-if",
        "test.loss > 5",
    )
    assert failing.exit_code == 1, failing.output
    assert "gates: 2 of 3 checks FAILED" in failing.output
    assert (
        "bbbbbb: test.accuracy < baseline - 0.01: 0.7 < 0.704 (test.accuracy 0.7, baseline 0.714)"
    ) in failing.output
    assert "wall_time_s > 1.2 * baseline: 130 > 120" in failing.output
    assert "test.loss > 5" not in failing.output.split("FAILED")[1]


def test_gates_without_a_baseline_judge_every_run(cli, two_runs):
    result = cli("compare", *map(str, two_runs), "--fail-if", "test.accuracy < 0.71")
    assert result.exit_code == 1
    assert "1 of 2 checks FAILED" in result.output and "bbbbbb: test.accuracy < 0.71" in result.output


def test_a_failed_run_fails_a_gate_on_its_missing_metric(cli, tmp_path, two_runs):
    old, _ = two_runs
    broken = make_run(tmp_path / "outputs", run_id="20261122-120000-cccccc", status="failed")
    result = cli("compare", str(old), str(broken), "--fail-if", "test.accuracy < 0.5")
    assert result.exit_code == 1, result.output
    assert "cannot be evaluated: test.accuracy is missing from this run" in result.output
    assert "failed" in result.output.splitlines()[1]  # the status row


def test_division_by_zero_in_a_gate_is_reported_not_a_crash(cli, two_runs):
    old, new = two_runs
    result = cli(
        "compare",
        str(new),
        "--baseline",
        str(old),
        "--fail-if",
        "test.accuracy / (wall_time_s - wall_time_s) > 1",
    )
    assert result.exit_code == 1, result.output
    assert "cannot be evaluated: division by zero" in result.output


def test_markdown_is_a_table_a_ci_job_can_post(cli, two_runs):
    old, new = two_runs
    result = cli(
        "compare",
        str(new),
        "--baseline",
        str(old),
        "--format",
        "markdown",
        "--fail-if",
        "test.accuracy < baseline - 0.01",
    )
    assert result.exit_code == 1
    lines = result.output.splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == ("| metric | aaaaaa (baseline) | bbbbbb |")
    assert set(table[1].replace("|", "")) <= set("-:")
    assert all(line.count("|") == table[0].count("|") for line in table)
    assert any(line.startswith("| test.accuracy | 0.714 | 0.7 (-0.014, -2.0%) |") for line in table)
    assert "**Gates**: :x: 1 of 1 gate checks failed" in result.output
    assert "- `bbbbbb: test.accuracy < baseline - 0.01" in result.output


def test_csv_has_one_row_per_run_and_parses(cli, two_runs):
    old, new = two_runs
    result = cli(
        "compare",
        str(old),
        str(new),
        "--baseline",
        str(old),
        "--format",
        "csv",
        "-m",
        "test.*",
        "--fail-if",
        "test.accuracy < baseline - 0.01",
    )
    assert result.exit_code == 1
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["run"] for row in rows] == [
        "aaaaaa",
        "bbbbbb",
    ]
    assert float(rows[1]["test.accuracy"]) == 0.7
    assert float(rows[1]["test.accuracy_diff"]) == pytest.approx(-0.014)
    assert rows[0]["test.accuracy_diff"] == ""  # the baseline itself
    assert rows[1]["run_dir"] == str(new) and rows[1]["status"] == "completed"
    assert "FAILED" in result.stderr and "FAILED" not in result.stdout


def test_json_parses_and_holds_values_differences_and_gates(cli, two_runs):
    old, new = two_runs
    result = cli(
        "compare",
        str(new),
        "--baseline",
        str(old),
        "--format",
        "json",
        "--fail-if",
        "wall_time_s > 1.2 * baseline",
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["baseline"] == "aaaaaa"
    by_run = {run["run"]: run for run in data["runs"]}
    assert by_run[data["baseline"]]["is_baseline"] is True
    assert by_run["bbbbbb"]["diff"]["wall_time_s"] == 30
    assert data["gates"] == [
        {
            "run": "bbbbbb",
            "expression": "wall_time_s > 1.2 * baseline",
            "failed": True,
            "left": 130.0,
            "right": 120.0,
            "values": {"wall_time_s": 130.0, "baseline": 100.0},
            "problem": None,
        }
    ]


def test_metrics_json_files_and_folders_of_runs_are_accepted(cli, two_runs, tmp_path):
    old, new = two_runs
    by_file = cli("compare", str(old / "metrics.json"), str(new / "metrics.json"), "-m", "test.accuracy")
    assert by_file.exit_code == 0, by_file.output
    by_folder = cli("compare", str(tmp_path / "outputs" / "cnn-cifar10"), "-m", "test.accuracy")
    assert by_folder.output == by_file.output


@pytest.mark.parametrize("summary", ["json", "json-object", "csv"])
def test_a_sweep_directory_expands_to_its_runs(tmp_path, monkeypatch, summary):
    outputs = tmp_path / "outputs"
    runs = [make_run(outputs, run_id=f"20261122-10000{i}-aaaaa{i}", accuracy=0.6 + i / 10) for i in range(3)]
    sweep = outputs / "sweeps" / "lr-20261122-100000-abcdef"
    sweep.mkdir(parents=True)
    rows = [{"config": "cnn-cifar10", "status": "completed", "run_dir": str(run)} for run in runs]
    rows.append({"config": "cnn-cifar10", "status": "failed", "run_dir": None})  # failed before a dir
    rows[1]["run_dir"] = str(runs[1].relative_to(sweep.parent.parent.parent))  # relative to the cwd
    if summary == "json":
        (sweep / "summary.json").write_text(json.dumps(rows))
    elif summary == "json-object":
        (sweep / "summary.json").write_text(json.dumps({"name": "lr", "runs": rows}))
    else:
        lines = ["config,status,run_dir"]
        lines += [f"{r['config']},{r['status']},{r['run_dir'] or ''}" for r in rows]
        (sweep / "summary.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    found = expand_paths([str(sweep)])
    assert [run.path.resolve() for run in found] == [run.resolve() for run in runs]
    comparison = api.compare([str(sweep)], metrics=["test.accuracy"])
    assert [run.values["test.accuracy"] for run in comparison.runs] == pytest.approx([0.6, 0.7, 0.8])


@pytest.mark.subprocess
def test_a_sweep_without_a_summary_is_searched_for_run_directories(tmp_path):
    sweep = tmp_path / "sweep"
    make_run(sweep / "runs", run_id="20261122-100000-aaaaaa")
    make_run(sweep / "runs", config="cnn-mnist", run_id="20261122-100001-bbbbbb")
    assert len(expand_paths([str(sweep)])) == 2


def test_curve_overlays_a_history_column_across_runs(cli, two_runs, tmp_path):
    from PIL import Image

    result = cli("compare", *map(str, two_runs), "--curve", "val_loss", "-o", "curves/val.png")
    assert result.exit_code == 0, result.output
    image = tmp_path / "curves" / "val.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert min(Image.open(image).size) > 100
    default = cli("compare", *map(str, two_runs), "--curve", "loss")
    assert default.exit_code == 0 and (tmp_path / "compare-loss.png").is_file()


# --------------------------------------------------------------------------- bad input: exit 2


def test_unknown_metric_in_a_gate_lists_the_available_ones(cli, two_runs):
    result = cli("compare", *map(str, two_runs), "--fail-if", "test.acc < 0.9")
    assert result.exit_code == 2
    assert "unknown metric 'test.acc'" in result.output
    assert "Did you mean 'test.accuracy'" in result.output
    assert "Available metrics: " in result.output and "wall_time_s" in result.output
    assert "Traceback" not in result.output


def test_bad_gate_syntax_points_with_a_caret(cli, two_runs):
    result = cli("compare", *map(str, two_runs), "--fail-if", "__import__('os').system('x') > 1")
    assert result.exit_code == 2
    assert "  __import__('os').system('x') > 1\n" + " " * 13 + "^" in result.output


def test_baseline_in_a_gate_needs_a_baseline_run(cli, two_runs):
    result = cli("compare", *map(str, two_runs), "--fail-if", "test.accuracy < baseline")
    assert result.exit_code == 2 and "no --baseline RUN was given" in result.output


def test_unknown_metric_option_is_refused(cli, two_runs):
    result = cli("compare", *map(str, two_runs), "-m", "test.acuracy")
    assert result.exit_code == 2 and "--metric 'test.acuracy' matches no metric" in result.output
    assert "Did you mean 'test.accuracy'" in result.output


def test_runs_with_no_metric_in_common_are_refused(cli, tmp_path):
    outputs = tmp_path / "outputs"
    first = make_run(outputs, run_id="20261122-100000-aaaaaa")
    second = make_run(outputs, config="other", run_id="20261122-100000-bbbbbb")
    (second / "metrics.json").write_text(json.dumps({"status": "completed", "final_cost": 0.2}))
    result = cli("compare", str(first), str(second))
    assert result.exit_code == 2
    assert "no metric in common" in result.output and "final_cost" in result.output


def test_paths_that_are_not_runs_are_refused(cli, tmp_path, two_runs):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.json").write_text("{not json")
    for path, message in [
        ("missing", "does not exist"),
        ("empty", "is not a run"),
        ("notes.txt", "is not a run"),
        ("broken.json", "cannot be read"),
    ]:
        result = cli("compare", path, str(two_runs[0]))
        assert result.exit_code == 2, (path, result.output)
        assert message in result.output, (path, result.output)


def test_a_baseline_that_is_not_one_run_is_refused(cli, tmp_path, two_runs):
    (tmp_path / "empty").mkdir()
    not_a_run = cli("compare", str(two_runs[1]), "--baseline", "empty")
    assert not_a_run.exit_code == 2
    assert "--baseline" in not_a_run.output and "is not a run" in not_a_run.output
    many = cli("compare", str(two_runs[1]), "--baseline", str(tmp_path / "outputs"))
    assert many.exit_code == 2 and "holds 2 runs" in many.output


def test_a_curve_no_run_recorded_is_refused_before_anything_is_written(cli, two_runs, tmp_path):
    result = cli("compare", *map(str, two_runs), "--curve", "val_auc", "-o", "x.png")
    assert result.exit_code == 2
    assert "History columns: accuracy, loss, val_accuracy, val_loss" in result.output
    assert not (tmp_path / "x.png").exists()


def test_unknown_format_is_refused(cli, two_runs):
    result = cli("compare", *map(str, two_runs), "--format", "markdwon")
    assert result.exit_code == 2 and "Did you mean 'markdown'" in result.output


def test_more_than_six_runs_get_one_row_each(cli, tmp_path):
    for i in range(7):
        make_run(tmp_path / "outputs", run_id=f"20261122-10000{i}-aaaaa{i}", accuracy=0.6 + i / 100)
    result = cli("compare", "outputs", "-m", "test.accuracy", "-m", "wall_time_s")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["run", "status", "test.accuracy", "wall_time_s"]
    assert lines[7].split() == ["aaaaa6", "completed", "0.66", "100"]  # nothing differs: the short id
    markdown = cli("compare", "outputs", "-m", "test.accuracy", "-f", "markdown").output
    assert "| aaaaa3 | completed | 0.63 |" in markdown


@pytest.mark.parametrize("command", ["compare", "check", "runs", "report"])
def test_help_is_written_for_people(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output
