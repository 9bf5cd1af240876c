"""dlab sweep: planning and validation, parallel runs, failures, seed statistics, study figures."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from dlab.errors import UsageError
from dlab.sweep.execute import job_environment, visible_gpus
from dlab.sweep.plan import parse_grid, parse_seeds, plan_sweep, split_values
from dlab.sweep.summary import (
    aggregate_seeds,
    key_metrics,
    metric_value,
    seed_statistics,
    t_quantile_975,
)

# A run of this config fails while training, in the child process: sitecustomize (put on
# PYTHONPATH by the `failing_config` fixture) replaces the NumPy training loop.
FAILING = "xor-mlp-tanh"
SITECUSTOMIZE = f'''
import sys

import dlab.models.numpy_models

_original = dlab.models.numpy_models.gradient_descent


def _fail_one_config(*args, **kwargs):
    if "{FAILING}" in sys.argv:
        raise RuntimeError("simulated failure in training")
    return _original(*args, **kwargs)


dlab.models.numpy_models.gradient_descent = _fail_one_config
'''


@pytest.fixture
def failing_config(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    monkeypatch.setenv("PYTHONPATH", str(folder))
    return FAILING


def only_sweep_dir(out: Path) -> Path:
    (sweep_dir,) = (out / "sweeps").iterdir()
    return sweep_dir


def summary_of(out: Path) -> tuple[dict, list[dict]]:
    sweep_dir = only_sweep_dir(out)
    summary = json.loads((sweep_dir / "summary.json").read_text())
    with open(sweep_dir / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return summary, rows


# --------------------------------------------------------------------------- planning


def test_split_values_keeps_lists_and_quoted_commas_together():
    assert split_values("1, [3,3,2],{a: 1, b: 2},'x,y'") == ["1", "[3,3,2]", "{a: 1, b: 2}", "'x,y'"]
    with pytest.raises(ValueError, match="not closed"):
        split_values("[1,2")


def test_grid_expands_every_combination_for_every_config():
    plan = plan_sweep(
        ["playground-mlp"],
        grid=["model.hidden=[1],[3,3]", "train.optimizer.learning_rate=0.01,0.03,0.1"],
        seeds=2,
        smoke=True,
    )
    assert plan.kind == "grid" and plan.name == "playground-mlp"
    assert len(plan.runs) == 2 * 3 * 2
    assert plan.runs[0].overrides == ("model.hidden=[1]", "train.optimizer.learning_rate=0.01")
    assert [run.seed for run in plan.runs[:2]] == [1, 2]
    assert plan.runs[-1].label == (
        "playground-mlp model.hidden=[3,3] train.optimizer.learning_rate=0.1 seed=2"
    )
    assert [run.index for run in plan.runs] == list(range(1, 13))


def test_configs_from_globs_of_files_and_of_packaged_names(tmp_path):
    from dlab.config import config_names, packaged_configs_dir

    plan = plan_sweep(["perceptron-*", "xor-mlp", "xor-mlp"])
    assert [run.name for run in plan.runs] == ["perceptron-and", "perceptron-and-const10", "xor-mlp"]
    assert plan.name == "configs" and plan.seeds == []
    every = plan_sweep([str(packaged_configs_dir() / "*.yaml")], smoke=True)
    assert sorted(run.name for run in every.runs) == config_names()


def test_a_study_expands_with_its_seeds_or_the_seeds_flag():
    plan = plan_sweep(["playground-architectures"], smoke=True)
    assert plan.kind == "study" and plan.study.compare.metric == "test_loss"
    assert len(plan.runs) == 4 * 2 * 5 and plan.seeds == [1, 2, 3, 4, 5]
    fewer = plan_sweep(["playground-architectures"], seeds="7,8", smoke=True)
    assert len(fewer.runs) == 4 * 2 * 2 and {run.seed for run in fewer.runs} == {7, 8}


def test_seeds_flag_forms():
    assert parse_seeds(None) == [] and parse_seeds("3") == [1, 2, 3] and parse_seeds(2) == [1, 2]
    assert parse_seeds("7,11") == [7, 11]
    for bad in ("0", "x", "1,1", "3,"):
        with pytest.raises(UsageError):
            parse_seeds(bad)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("model.hidden", "there is no '='"),
        ("model.hidden=", "no values"),
        ("model hidden=1,2", "not a dotted key"),
        ("model.hidden=[1],,[2]", "empty value"),
        ("model.hidden=[1,2", "not closed"),
        ("model.hidden=[1]]", "closes nothing"),
    ],
)
def test_bad_grid_specs(spec, message):
    with pytest.raises(UsageError, match=message):
        parse_grid([spec])


def test_each_job_gets_its_threads_and_its_own_gpu(monkeypatch):
    env = job_environment(3, threads=4, gpus=["0", "1"])
    assert env["TF_NUM_INTRAOP_THREADS"] == "4" and env["OMP_NUM_THREADS"] == "4"
    assert env["TF_NUM_INTEROP_THREADS"] == "2"
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert job_environment(2, 1, ["0", "1"])["CUDA_VISIBLE_DEVICES"] == "0"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert visible_gpus() == ["2", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert visible_gpus() == []


# --------------------------------------------------------------------------- bad input: exit 2


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such-config"], "Unknown experiment or config 'no-such-config'"),
        (["playground-mlp", "--grid", "model.hiden=[1],[2]"], "Unknown key 'model.hiden'"),
        (["playground-mlp", "--grid", "model.hidden=abc,[2]"], "model.hidden=abc"),
        (["playground-mlp", "--grid", "model.hidden="], "no values"),
        (["playground-mlp", "--grid", "model.hidden"], "there is no '='"),
        (["xor-mlp", "--jobs", "0"], "--jobs 0"),
        (["xor-mlp", "--seeds", "0"], "at least 1"),
        (["mnist-noise", "xor-mlp"], "A study runs on its own"),
        (["mnist-noise", "--grid", "seed=1,2"], "has its own runs or grid"),
        (["xor-mlp", "--grid", "seed=1,2", "--set", "seed=3"], "both a --grid axis and a --set"),
        (["xor-mlp", "--device", "tpu"], "Invalid --device 'tpu'"),
        (["'nothing-*'"], "matches no packaged config"),
    ],
)
def test_bad_input_stops_before_any_run(cli, tmp_path, args, message):
    result = cli("sweep", *[arg.strip("'") for arg in args], "--smoke")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "outputs").exists(), "something ran or was created"


@pytest.mark.subprocess
def test_a_study_with_an_unknown_config_or_key_is_refused_before_running(cli, tmp_path):
    unknown_config = write(
        tmp_path / "a.yaml", "study: a\nruns: [xor-mlp, xor-mpl]\ncompare: {metric: test_loss}\n"
    )
    result = cli("sweep", unknown_config)
    assert result.exit_code == 2 and "Unknown experiment or config 'xor-mpl'" in result.output
    assert "Did you mean 'xor-mlp'" in result.output
    unknown_key = write(
        tmp_path / "b.yaml",
        "study: b\nbase: playground-mlp\n"
        "grid: {model.hidden: [[1]], train.optimiser: [0.1]}\n"
        "compare: {metric: test_loss}\n",
    )
    result = cli("sweep", unknown_key)
    assert result.exit_code == 2 and "Unknown key 'train.optimiser'" in result.output
    empty_grid = write(
        tmp_path / "c.yaml", "study: c\nbase: playground-mlp\ngrid: {}\ncompare: {metric: test_loss}\n"
    )
    result = cli("sweep", empty_grid)
    assert result.exit_code == 2 and "non-empty grid" in result.output
    assert not (tmp_path / "outputs").exists()


# --------------------------------------------------------------------------- seed statistics


def test_t_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 4, 9, 30, 35, 50, 100, 500, 10_000):
        assert t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-3), df


def test_seed_statistics_by_hand():
    stats = seed_statistics([0.8, 0.9, 1.0])
    half = 4.3027 * 0.1 / math.sqrt(3)
    assert stats["n"] == 3 and stats["mean"] == pytest.approx(0.9)
    assert stats["std"] == pytest.approx(0.1)
    assert (stats["ci95_low"], stats["ci95_high"]) == pytest.approx((0.9 - half, 0.9 + half))
    single = seed_statistics([0.5])
    assert single["mean"] == 0.5 and single["std"] is None and single["ci95_low"] is None


def fake_metrics(run_dir: Path, status: str, test_loss: float, val_accuracy: float) -> dict:
    run_dir.mkdir(parents=True)
    metrics = {
        "status": status,
        "test": {"loss": test_loss, "accuracy": 1 - test_loss},
        "final": {"train": {"loss": 2 * test_loss}, "val": {"accuracy": val_accuracy}},
        "params": {"total": 9},
        "wall_time_s": 1.5,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return metrics


def test_seed_aggregation_of_metrics_files(tmp_path):
    runs = [
        ("a", 1, "completed", 0.2, 0.7),
        ("a", 2, "completed", 0.4, 0.8),
        ("a", 3, "completed", 0.3, 0.9),
        ("a", 4, "failed", 9.0, 0.0),
        ("b", 1, "completed", 0.5, 0.6),
        ("c", 1, "failed", 1.0, 0.1),
    ]
    rows = []
    for config, seed, status, loss, accuracy in runs:
        fake_metrics(tmp_path / f"{config}-{seed}", status, loss, accuracy)
        metrics = json.loads((tmp_path / f"{config}-{seed}" / "metrics.json").read_text())
        rows.append(
            {
                "config": config,
                "overrides": ["model.hidden=[3]"],
                "seed": seed,
                "status": status,
                "metrics": key_metrics(metrics, ["test.accuracy"]),
            }
        )
    a, b, c = aggregate_seeds(rows)
    assert a["seeds"] == [1, 2, 3, 4] and a["completed"] == 3  # the failed seed is left out
    assert a["metrics"]["test_loss"]["mean"] == pytest.approx(0.3)
    assert a["metrics"]["test_loss"]["std"] == pytest.approx(0.1)
    # 0.8 + 4.3027 * 0.1 / sqrt(3) = 1.048: an accuracy's interval stops at 1, and says so
    assert a["metrics"]["val_accuracy"]["ci95_high"] == 1.0
    assert a["metrics"]["val_accuracy"]["ci95_low"] == pytest.approx(0.8 - 4.3027 * 0.1 / 3**0.5)
    assert "clipped" in a["metrics"]["val_accuracy"]
    assert a["metrics"]["test.accuracy"]["mean"] == pytest.approx(0.7)
    assert a["metrics"]["train_loss"]["mean"] == pytest.approx(0.6)
    assert b["metrics"]["test_loss"] == {
        "n": 1,
        "mean": 0.5,
        "std": None,
        "ci95_low": None,
        "ci95_high": None,
    }
    assert c["completed"] == 0 and c["metrics"] == {}


def test_metric_names_that_studies_use():
    metrics = {
        "test": {"loss": 0.1, "accuracy": 0.9},
        "final_cost": 0.2,
        "params": {"total": 7},
        "final": {"train": {"loss": 0.3}, "val": {"accuracy": 0.8, "binary_crossentropy": 0.4}},
    }
    assert metric_value(metrics, "test_loss") == 0.1
    assert metric_value(metrics, "test.accuracy") == 0.9
    assert metric_value(metrics, "val_accuracy") == 0.8
    assert metric_value(metrics, "val_binary_crossentropy") == 0.4
    assert metric_value(metrics, "loss") == 0.3
    assert metric_value(metrics, "params.total") == 7
    assert metric_value(metrics, "final_cost") == 0.2
    assert metric_value(metrics, "val_loss") is None


# --------------------------------------------------------------------------- running


@pytest.mark.subprocess
def test_parallel_smoke_sweep_completes_and_rows_match_run_directories(cli, tmp_path):
    configs = ["perceptron-and", "xor-mlp", "softmax-decoder", "playground-mlp"]
    result = cli("sweep", *configs, "--smoke", "--jobs", "2", "--no-save", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "4 completed" in result.output and "[4/4] completed" in result.output
    summary, rows = summary_of(tmp_path / "outputs")
    assert summary["jobs"] == 2 and summary["counts"] == {"completed": 4}
    assert summary["run_flags"]["smoke"] is True
    assert [row["config"] for row in rows] == configs
    for row, record in zip(rows, summary["runs"], strict=True):
        assert row["status"] == "completed" and row["exit_code"] == "0"
        run_dir = Path(row["run_dir"])
        assert run_dir.parent == (tmp_path / "outputs" / row["config"]).resolve()
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["status"] == "completed" and metrics["smoke"] is True
        assert float(row["test_loss"]) == pytest.approx(metrics["test"]["loss"])
        assert record["metrics"]["test_loss"] == metrics["test"]["loss"]
        assert Path(row["log"]).is_file() and float(row["wall_time_s"]) > 0
    # one run directory per row, nothing else
    made = sorted(p for p in (tmp_path / "outputs").glob("*/*") if p.parent.name != "sweeps")
    assert sorted(Path(row["run_dir"]) for row in rows) == [p.resolve() for p in made]
    assert not list(only_sweep_dir(tmp_path / "outputs").glob(".*")), "temporary files left"


@pytest.mark.subprocess
def test_a_failed_run_is_recorded_and_the_sweep_goes_on(cli, tmp_path, failing_config):
    missing_data = write(
        tmp_path / "breast-cancer-csv.yaml",
        "extends: logreg-scratch\ndata: {source: file, path: missing.csv, target: label}\n",
    )
    result = cli("sweep", failing_config, "perceptron-and", missing_data, "--jobs", "2", "--no-save")
    assert result.exit_code == 1, result.output
    summary, _ = summary_of(tmp_path / "outputs")
    by_config = {row["config"]: row for row in summary["runs"]}
    assert summary["counts"] == {"failed": 2, "completed": 1}
    assert by_config["perceptron-and"]["status"] == "completed"

    failed = by_config[failing_config]
    assert failed["status"] == "failed" and failed["exit_code"] == 1
    assert failed["error"] == "RuntimeError: simulated failure in training"
    metrics = json.loads((Path(failed["run_dir"]) / "metrics.json").read_text())
    assert metrics["status"] == "failed"
    assert "simulated failure in training" in Path(failed["log"]).read_text()

    no_data = by_config["breast-cancer-csv"]  # failed loading its data: no run directory
    assert no_data["status"] == "failed" and no_data["exit_code"] == 2
    assert no_data["run_dir"] is None and "missing.csv" in no_data["error"]
    assert "simulated failure in training" in result.output and "log:" in result.output


@pytest.mark.subprocess
def test_fail_fast_stops_at_the_first_failure(cli, tmp_path, failing_config):
    result = cli("sweep", failing_config, "perceptron-and", "softmax-decoder", "--fail-fast", "--no-save")
    assert result.exit_code == 1, result.output
    summary, _ = summary_of(tmp_path / "outputs")
    assert [row["status"] for row in summary["runs"]] == ["failed", "skipped", "skipped"]
    assert not (tmp_path / "outputs" / "perceptron-and").exists()


@pytest.mark.subprocess
def test_a_study_with_seeds_writes_statistics_and_comparison_figures(cli, tmp_path):
    study = write(
        tmp_path / "init.yaml",
        "study: perceptron-init\ndescription: zero init vs all-10 init\n"
        "runs: [perceptron-and, perceptron-and-const10]\nseeds: [1, 2]\n"
        "compare: {metric: test_loss, goal: min, threshold: 0.2}\n",
    )
    result = cli("sweep", study, "--jobs", "2", "--no-save", "--epochs", "5")
    assert result.exit_code == 0, result.output
    assert "across seeds (mean, 95% interval)" in result.output
    sweep_dir = only_sweep_dir(tmp_path / "outputs")
    assert sweep_dir.name.startswith("perceptron-init-")
    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert summary["study"]["compare"]["metric"] == "test_loss"
    assert [(row["config"], row["seed"]) for row in summary["runs"]] == [
        ("perceptron-and", 1),
        ("perceptron-and", 2),
        ("perceptron-and-const10", 1),
        ("perceptron-and-const10", 2),
    ]
    first = summary["seed_statistics"][0]
    losses = [row["metrics"]["test_loss"] for row in summary["runs"][:2]]
    assert first["metrics"]["test_loss"]["mean"] == pytest.approx(sum(losses) / 2)
    with open(sweep_dir / "seeds.csv", newline="") as handle:
        seed_rows = list(csv.DictReader(handle))
    assert [row["config"] for row in seed_rows] == ["perceptron-and", "perceptron-and-const10"]
    assert float(seed_rows[0]["test_loss_mean"]) == pytest.approx(sum(losses) / 2)
    for figure in ("curves_loss.png", "compare_test_loss.png"):
        assert (sweep_dir / figure).stat().st_size > 1000, figure


def test_the_console_shows_done_running_failed_on_a_terminal(tmp_path):
    import io

    from dlab.cli.sweep_console import ConsoleProgress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    progress = ConsoleProgress(terminal)
    plan = plan_sweep(["xor-mlp", "perceptron-and"])
    progress("start", {"plan": plan, "sweep_dir": tmp_path, "jobs": 2, "threads": 1, "gpus": []})
    progress("launch", {"label": "xor-mlp", "counts": {"running": 1, "pending": 1}})
    assert terminal.getvalue().endswith("0/2 done, 1 running, 0 failed, 1 pending")
    row = {
        "status": "failed",
        "wall_time_s": 1.25,
        "metrics": {},
        "error": "RuntimeError: boom",
        "log": "logs/001-xor-mlp.log",
    }
    progress("finish", {"row": row, "label": "xor-mlp", "counts": {"failed": 1, "running": 1}})
    text = terminal.getvalue()
    assert "[1/2] failed      xor-mlp  1.2 s\n    RuntimeError: boom\n    log: logs/001-xor-mlp.log" in text
    assert text.endswith("1/2 done, 1 running, 1 failed, 0 pending")


def test_the_console_header_of_a_ray_sweep_says_where_it_runs_not_how_many_at_once(tmp_path):
    import io

    from dlab.cli.sweep_console import ConsoleProgress

    plan = plan_sweep(["xor-mlp", "perceptron-and"])
    lines = []
    for address, cluster in ((None, {"CPU": 2.0}), ("10.0.0.5:6379", {"CPU": 64.0, "GPU": 8.0})):
        stream = io.StringIO()
        ray = {"address": address, "cpus_per_run": 2, "gpus_per_run": 0.5, "cluster": cluster}
        info = {"plan": plan, "sweep_dir": tmp_path, "jobs": 2, "threads": 2, "gpus": [], "ray": ray}
        ConsoleProgress(stream)("start", info)
        lines.append(stream.getvalue().splitlines()[0])
    assert lines == [
        "sweep configs: 2 runs on a local Ray (this machine) (cluster: 2 CPU(s), 0 GPU(s)), "
        "2 CPU(s) / 0.5 GPU(s) per run; the cluster decides how many run at once",
        "sweep configs: 2 runs on Ray at 10.0.0.5:6379 (cluster: 64 CPU(s), 8 GPU(s)), "
        "2 CPU(s) / 0.5 GPU(s) per run; the cluster decides how many run at once",
    ]
    assert all("at a time" not in line for line in lines)


@pytest.mark.subprocess
def test_ctrl_c_interrupts_the_running_runs_and_still_writes_the_summary(tmp_path):
    from dlab import api

    def press_ctrl_c_once_two_run(event, info):
        if event == "launch" and info["counts"].get("running") == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.sweep(
            ["perceptron-and", "xor-mlp", "softmax-decoder"],
            jobs=2,
            out=tmp_path,
            save_model=False,
            progress=press_ctrl_c_once_two_run,
        )
    summary = json.loads((only_sweep_dir(tmp_path) / "summary.json").read_text())
    assert [row["status"] for row in summary["runs"]] == ["interrupted", "interrupted", "skipped"]
    assert summary["finished_at"] is not None
    assert summary["runs"][0]["error"].startswith("interrupted")


@pytest.mark.subprocess
def test_sweep_help_and_the_sweep_modules_stay_light(cli):
    import subprocess
    import sys

    result = cli("sweep", "--help")
    assert result.exit_code == 0 and "--jobs" in result.output and "--seeds" in result.output
    check = (
        "import sys, dlab.sweep, dlab.sweep.plan, dlab.sweep.summary, dlab.cli.sweep_console; "
        "heavy = [m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", check], check=True)
