"""Every option of `dlab run` is declared once (dlab.cli.options) and reaches the request of a run,
of every member of a sweep and of a search (its trials, and its Ray workers) where it applies."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from dlab import api
from dlab.cli import options
from dlab.pipeline import steps
from dlab.pipeline.request import RunRequest
from dlab.pipeline.steps import RunResult
from dlab.sweep.execute import SweepResult, member_request
from dlab.tune.ray_workers import worker_flags

SAMPLES = {
    "epochs": (["--epochs", "3"], lambda r: r.overrides.epochs, 3),
    "batch_size": (["--batch-size", "16"], lambda r: r.overrides.batch_size, 16),
    "seed": (["--seed", "7"], lambda r: r.overrides.seed, 7),
    "sets": (["--set", "train.shuffle=false", "--set", "seed=3"], lambda r: r.overrides.sets, None),
    "smoke": (["--smoke"], lambda r: r.overrides.smoke, True),
    "max_wall_time": (["--max-wall-time", "30m"], lambda r: r.overrides.max_wall_time, "30m"),
    "strategy": (["--strategy", "mirrored"], lambda r: r.overrides.strategy, "mirrored"),
    "precision": (["--precision", "mixed_bfloat16"], lambda r: r.overrides.precision, "mixed_bfloat16"),
    "jit": (["--jit", "false"], lambda r: r.overrides.jit, "false"),
    "backend": (["--backend", "jax"], lambda r: r.overrides.backend, "jax"),
    "out": (["--out", "elsewhere"], lambda r: str(r.output.out), "elsewhere"),
    "no_save": (["--no-save"], lambda r: r.output.save_model, False),
    "device": (["--device", "cpu"], lambda r: r.device, "cpu"),
    "resume": (["--resume", "some/run"], lambda r: r.output.resume, "some/run"),
    "fresh": (["--fresh"], lambda r: r.output.fresh, True),
    "result_file": (["--result-file", "r.json"], lambda r: r.output.result_file, "r.json"),
    "verbose": (["--verbose", "0"], lambda r: r.reporting.verbose, 0),
    "quiet": (["--quiet"], lambda r: r.reporting.quiet, True),
    "tensorboard": (["--tensorboard"], lambda r: r.reporting.tensorboard, True),
    "mlflow": (["--mlflow"], lambda r: r.reporting.mlflow, True),
    "mlflow_uri": (["--mlflow-uri", "sqlite:///x.db"], lambda r: r.reporting.mlflow_uri, "sqlite:///x.db"),
    "register": (["--register", "mnist-mlp"], lambda r: r.reporting.register, "mnist-mlp"),
    "tags": (["--tag", "purpose=baseline", "--tag", "data=v2"], lambda r: r.reporting.tags, None),
    "note": (["--note", "first try"], lambda r: r.reporting.note, "first try"),
    "profile": (["--profile"], lambda r: r.reporting.profile, True),
    "debug": (["--debug"], lambda r: r.debug, True),
}
SAMPLES["tags"] = (SAMPLES["tags"][0], SAMPLES["tags"][1], ("purpose=baseline", "data=v2"))
SAMPLES["sets"] = (SAMPLES["sets"][0], SAMPLES["sets"][1], ("train.shuffle=false", "seed=3"))

RUN_OPTIONS = [param for param in options.RUN if param.name != "config"]
SWEEP_ONLY = ("quiet", "mlflow", "mlflow_uri", "debug")
"""The sweep's console and its parent MLflow run: the sweep request has them, its members do not."""


def test_every_run_option_has_a_sample():
    assert sorted(SAMPLES) == sorted(param.name for param in RUN_OPTIONS)


@pytest.fixture
def captured(monkeypatch, tmp_path):
    """What reached the pipeline or the executors instead of running (nothing is trained)."""
    seen: dict = {}

    def run(request):
        seen.setdefault("runs", []).append(request)
        return RunResult(tmp_path / "run", {"status": "completed"})

    def sweep(plan, request, progress=None):
        seen["plan"], seen["sweep"] = plan, request
        return SweepResult(tmp_path / "sweep", [], [])

    def worker(search):
        seen["worker"] = search
        return SimpleNamespace(trials=[], worker="1", chief="h:1", seconds=0.0, exit_code=0)

    # the modules, not api.sweep / api.tune: importing dlab.api.tune by its name first would put the
    # module where the facade's function belongs
    sweeps, tune = (sys.modules[function.__module__] for function in (api.sweep, api.tune))
    monkeypatch.setattr(steps, "run", run)
    monkeypatch.setattr(sweeps, "run_sweep", sweep)
    monkeypatch.setattr(sweeps, "mlflow_tracker", lambda *args: None)
    monkeypatch.setattr(tune, "_worker", worker)
    return seen


def declared(command: tuple, name: str) -> bool:
    return any(param.name == name for param in command)


@pytest.mark.parametrize("param", RUN_OPTIONS, ids=lambda param: param.name)
def test_a_run_option_reaches_the_run_request(cli, captured, param):
    argv, read, expected = SAMPLES[param.name]
    result = cli("run", "perceptron-and", *argv)
    assert result.exit_code == 0, result.output
    (request,) = captured["runs"]
    assert read(request) == expected
    assert request == RunRequest.from_options(
        "perceptron-and", **options.api_options(_parsed(param, expected))
    )


def _parsed(param, expected):
    """The one option as the CLI hands it to the API (for the request built by keywords)."""
    value = {"no_save": True, "sets": list(expected) if param.name == "sets" else expected}.get(
        param.name, expected
    )
    return {param.name: value}


@pytest.mark.parametrize("param", RUN_OPTIONS, ids=lambda param: param.name)
def test_a_run_option_reaches_every_member_of_a_sweep(cli, captured, param):
    argv, read, expected = SAMPLES[param.name]
    result = cli("sweep", "perceptron-and", "xor-mlp", "--seeds", "2", *argv)
    if param not in options.SWEEP:
        assert result.exit_code == 2 and "No such option" in result.output, result.output
        return
    assert result.exit_code == 0, result.output
    request = captured["sweep"]
    assert read(request.run) == expected
    members = [member_request(request.run, run, "r.json") for run in captured["plan"].runs]
    assert [(m.config, m.overrides.seed) for m in members] == [
        ("perceptron-and", 1),
        ("perceptron-and", 2),
        ("xor-mlp", 1),
        ("xor-mlp", 2),
    ]
    for member in members:
        if param.name not in SWEEP_ONLY:
            assert read(member) == expected
        # the member's process parses its command line back into the same request
        assert cli("run", *member.argv()).exit_code == 0
        assert captured["runs"].pop() == member


@pytest.mark.parametrize("param", RUN_OPTIONS, ids=lambda param: param.name)
def test_a_run_option_reaches_a_search_and_its_ray_workers(cli, captured, param):
    argv, read, expected = SAMPLES[param.name]
    if not declared(options.TUNE, param.name):
        result = cli("tune", "tune-mnist-mlp", *argv)
        assert result.exit_code == 2 and "No such option" in result.output, result.output
        return
    if param not in options.TUNE:  # --resume: on tune, the search to continue
        return
    result = cli("tune", "tune-mnist-mlp", "--max-trials", "3", *argv)
    assert result.exit_code == 0, result.output
    (request,) = captured["runs"]
    assert read(request) == expected and request.overrides.max_trials == 3
    worker = cli(
        "tune",
        "tune-mnist-mlp",
        *worker_flags(api.SearchRequest(request)),
        "--worker",
        "1",
        "--chief-address",
        "h:1",
    )
    assert worker.exit_code == 0, worker.output
    # a worker's trials are the chief's: the same overrides and device
    assert captured["worker"].run.overrides == request.overrides
    assert captured["worker"].run.device == request.device


def test_a_request_with_every_option_parses_back_from_its_command_line(cli, captured):
    every = [arg for name, (argv, _, _) in SAMPLES.items() if name != "fresh" for arg in argv]
    assert cli("run", "perceptron-and", *every).exit_code == 0
    request = captured["runs"].pop()
    assert cli("run", *request.argv()).exit_code == 0
    assert captured["runs"].pop() == request


def test_api_run_builds_the_same_request_from_keywords_or_takes_one(captured):
    api.run("xor-mlp", epochs=2, smoke=True, sets=["seed=1"], save_model=False, precision="float32")
    request = captured["runs"].pop()
    assert request.overrides.epochs == 2 and request.overrides.sets == ("seed=1",)
    assert request.output.save_model is False and request.overrides.precision == "float32"
    api.run(request)
    assert captured["runs"].pop() is request
    with pytest.raises(TypeError, match="no other option"):
        api.run(request, epochs=3)
    with pytest.raises(TypeError, match="bogus"):
        api.run("xor-mlp", bogus=1)
    with pytest.raises(TypeError, match="seed"):
        api.sweep(["xor-mlp"], seed=3)


@pytest.mark.parametrize("command", ["sweep", "tune"])
@pytest.mark.parametrize("executor", ["ray", "local"])
def test_backend_is_the_keras_backend_on_sweep_and_tune_and_points_to_executor(
    cli, tmp_path, command, executor
):
    target = "perceptron-and" if command == "sweep" else "tune-mnist-mlp"
    result = cli(command, target, "--backend", executor, "--smoke", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2, result.output
    assert f"use --executor {executor}" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_help_says_executor_on_sweep_and_tune_and_backend_means_keras(cli):
    for command in ("sweep", "tune"):
        text = cli(command, "--help").output
        assert "--executor" in text and "tensorflow|jax|torch" in text
    assert "--result-file" not in cli("run", "--help").output  # the sweep's, hidden


def test_a_bad_named_override_says_which_flag(cli, tmp_path):
    result = cli("run", "cnn-cifar10", "--smoke", "--precision", "float8", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "(from --precision)" in result.output
    assert "float8 is a Keras quantization mode" in result.output
    result = cli("show", "cnn-cifar10", "--jit", "maybe")
    assert result.exit_code == 2 and "(from --jit)" in result.output


@pytest.mark.subprocess
def test_flags_reach_the_runs_a_sweep_makes(cli, tmp_path):
    result = cli(
        "sweep",
        "perceptron-and",
        "--seeds",
        "2",
        "--epochs",
        "3",
        "--max-wall-time",
        "1h",
        "--set",
        "train.optimizer.learning_rate=0.5",
        "--no-save",
        "--device",
        "cpu",
        "--verbose",
        "0",
    )
    assert result.exit_code == 0, result.output
    (sweep_dir,) = (tmp_path / "outputs" / "sweeps").iterdir()
    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert [row["seed"] for row in summary["runs"]] == [1, 2]
    for row in summary["runs"]:
        run_dir = Path(row["run_dir"])
        metrics = json.loads((run_dir / "metrics.json").read_text())
        config = (run_dir / "config.yaml").read_text()
        assert metrics["epochs_run"] == 3 and metrics["seed"] == row["seed"]
        assert "max_wall_time: 3600.0" in config and "learning_rate: 0.5" in config
        assert not (run_dir / "model.keras").exists()
        assert "Epoch 1/3" not in Path(row["log"]).read_text()  # --verbose 0
