"""TensorBoard and MLflow, for real: event files read back by TensorBoard's own reader, a real
``tensorboard`` server on loopback, and a real MLflow store (SQLite in a temporary folder)
read back with ``MlflowClient``."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from dlab import api
from dlab.errors import RunInterrupted, UsageError

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None, reason="the mlflow extra is not installed"
)  # not importorskip: collecting the suite must not import MLflow


def accumulator(folder: Path):
    from tensorboard.backend.event_processing import event_accumulator

    events = event_accumulator.EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0})
    events.Reload()
    return events


def client_for(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def logged_run(uri: str, run_dir: Path):
    client = client_for(uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    (found,) = client.search_runs(ids, filter_string=f"tags.`dlab.run_id` = 'mlp-mnist/{run_dir.name}'")
    return client, found


# --------------------------------------------------------------------------- TensorBoard


def test_a_run_writes_one_scalar_per_epoch_for_tensorboard(tracked_run):
    result, _ = tracked_run
    for split in ("train", "validation"):
        events = accumulator(result.run_dir / "tensorboard" / split)
        assert "epoch_loss" in events.Tags()["tensors"], events.Tags()
        assert [event.step for event in events.Tensors("epoch_loss")] == [0, 1]
    import yaml

    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["train"]["tensorboard"] == {"histogram_freq": 0, "write_graph": True}


@pytest.mark.engine
def test_dlab_tensorboard_serves_a_run(tracked_run, tmp_path):
    from dlab.tracking.tensorboard import free_port

    result, _ = tracked_run
    port = free_port()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dlab", "tensorboard", str(result.run_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        status, deadline = None, time.monotonic() + 120
        while status != 200 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    status = answer.status
            except OSError:
                time.sleep(0.5)
        assert status == 200
    finally:
        process.send_signal(signal.SIGINT)  # dlab stops its tensorboard child, then exits
        output, _ = process.communicate(timeout=60)
    assert f"http://127.0.0.1:{port}/" in output
    with pytest.raises(OSError):  # the server is gone with it
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)


def test_dlab_tensorboard_refuses_a_folder_without_event_files(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("tensorboard", "empty")
    assert result.exit_code == 2
    assert "no TensorBoard event files" in result.output and "--tensorboard" in result.output


# --------------------------------------------------------------------------- MLflow


def test_a_run_is_logged_with_params_history_tags_and_artifacts(tracked_run):
    result, uri = tracked_run
    client, run = logged_run(uri, result.run_dir)
    assert run.info.status == "FINISHED"
    assert run.data.params["train.epochs"] == "2" and run.data.params["data.source"] == "synthetic"
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert [point.step for point in history] == [1, 2]
    assert history[-1].value == pytest.approx(result.metrics["final"]["val"]["loss"], rel=1e-6)
    assert run.data.metrics["test_accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])
    tags = run.data.tags
    assert tags["dlab.config"] == "mlp-mnist" and tags["dlab.framework"] == "dense_mnist"
    assert tags["dlab.status"] == "completed" and tags["dlab.smoke"] == "true"
    assert tags["dlab.seed"] == "42" and tags["dlab.device"] == "cpu"
    assert tags["dlab.config_hash"] == result.metrics["config_hash"]
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "metrics.json", "history.csv", "inference.json", "plots"} <= artifacts
    assert client.list_artifacts(run.info.run_id, "plots")
    (model,) = client.search_logged_models([run.info.experiment_id])  # model.keras is in the MLflow model
    assert model.source_run_id == run.info.run_id
    assert "model.keras" in {item.path for item in client.list_logged_model_artifacts(model.model_id)}


def test_a_one_epoch_run_is_logged(tmp_path, store):
    uri = store
    result = api.run(
        "mlp-mnist",
        smoke=True,
        out=tmp_path / "out",
        device="cpu",
        mlflow=True,
        mlflow_uri=uri,
        save_model=False,
    )
    client, run = logged_run(uri, result.run_dir)
    assert [point.step for point in client.get_metric_history(run.info.run_id, "loss")] == [1]
    assert "model.keras" not in {item.path for item in client.list_artifacts(run.info.run_id)}


@pytest.mark.heavy
def test_a_failed_run_is_failed_and_an_interrupted_one_killed(tmp_path, store):
    uri = store
    client = client_for(uri)
    with pytest.raises(Exception, match="non-finite loss"):
        api.run(
            "kfold-boston",
            smoke=True,
            epochs=3,
            device="cpu",
            out=tmp_path / "out",
            sets=["train.kfold=null", "train.optimizer={name: sgd, learning_rate: 1e6}"],
            mlflow=True,
            mlflow_uri=uri,
        )
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(RunInterrupted):
            api.run(
                "logreg-scratch",
                out=tmp_path / "out",
                epochs=1_000_000,
                sets=["train.batch_size=1"],
                mlflow=True,
                mlflow_uri=uri,
            )
    finally:
        timer.cancel()
    ids = [e.experiment_id for e in client.search_experiments()]
    statuses = {run.data.tags["dlab.config"]: run.info.status for run in client.search_runs(ids)}
    assert statuses == {"kfold-boston": "FAILED", "logreg-scratch": "KILLED"}


def test_mlflow_sync_logs_each_run_once(cli, tmp_path, store):
    assert cli("run", "perceptron-and", "--quiet").exit_code == 0
    assert cli("run", "xor-mlp", "--quiet").exit_code == 0
    uri = store
    first = cli("mlflow-sync", "outputs", "--mlflow-uri", uri)
    assert first.exit_code == 0, first.output
    assert "2 run(s) logged, 0 already in MLflow" in first.output
    second = cli("mlflow-sync", "outputs", "--mlflow-uri", uri)
    assert "0 run(s) logged, 2 already in MLflow" in second.output
    client = client_for(uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    assert len(client.search_runs(ids)) == 2
    assert (tmp_path / "store" / "mlartifacts").is_dir()  # artifacts beside the local store


def test_an_unreachable_tracking_uri_stops_before_training(cli, tmp_path):
    from dlab.tracking.tensorboard import free_port

    result = cli("run", "perceptron-and", "--mlflow", "--mlflow-uri", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 2, result.output
    assert "does not answer" in result.output and "Nothing was trained" in result.output
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("metrics.json"))


def test_mlflow_missing_is_a_clear_exit_2(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what an install without the extra looks like
    result = cli("run", "perceptron-and", "--mlflow")
    assert result.exit_code == 2
    assert 'pip install -e ".[mlflow]"' in result.output and "Traceback" not in result.output
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("metrics.json"))


def test_the_default_store_is_beside_the_outputs_root(tmp_path, monkeypatch):
    from dlab.tracking.mlflow_store import resolve_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_uri(None, tmp_path / "outputs") == f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://example.invalid")
    assert resolve_uri(None, tmp_path / "outputs") == "http://example.invalid"
    assert resolve_uri("sqlite:///x.db", tmp_path) == "sqlite:///x.db"
    with pytest.raises(UsageError, match="without --mlflow"):
        api.run("perceptron-and", mlflow_uri="sqlite:///x.db", out=tmp_path)


# --------------------------------------------------------------------------- sweeps


@pytest.mark.subprocess
def test_a_sweep_writes_hparams_and_nests_its_runs(tmp_path, store):
    from tensorboard.plugins.hparams import plugin_data_pb2

    uri = store
    result = api.sweep(
        ["playground-mlp"],
        grid=["train.optimizer.learning_rate=0.01,0.1"],
        smoke=True,
        out=tmp_path / "out",
        device="cpu",
        tensorboard=True,
        mlflow=True,
        mlflow_uri=uri,
    )
    assert result.exit_code == 0, result.rows
    events = accumulator(result.sweep_dir / "tensorboard")
    content = events.PluginTagToContent("hparams")["_hparams_/experiment"]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    assert [info.name for info in experiment.hparam_infos] == ["train.optimizer.learning_rate"]
    assert "test_loss" in [info.name.tag for info in experiment.metric_infos]
    sessions = sorted(p.name for p in (result.sweep_dir / "tensorboard").iterdir() if p.is_dir())
    assert len(sessions) == 2 and all(name.endswith("-playground-mlp") for name in sessions)
    for row in result.rows:
        assert list((Path(row["run_dir"]) / "tensorboard" / "train").glob("events.out.tfevents.*"))

    client = client_for(uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids)
    (parent,) = [run for run in runs if "dlab.sweep" in run.data.tags]
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and len(children) == 2
    rates = sorted(child.data.params["train.optimizer.learning_rate"] for child in children)
    assert rates == ["0.01", "0.1"]


@pytest.mark.heavy
def test_a_search_writes_hparams_of_its_space_and_nests_its_trials(tmp_path, store):
    from tensorboard.plugins.hparams import plugin_data_pb2

    uri = store
    result = api.tune(
        "tune-mnist-mlp",
        smoke=True,
        out=tmp_path / "out",
        device="cpu",
        tensorboard=True,
        mlflow=True,
        mlflow_uri=uri,
    )
    events = accumulator(result.run_dir / "tensorboard")
    content = events.PluginTagToContent("hparams")["_hparams_/experiment"]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    assert {info.name for info in experiment.hparam_infos} == {
        "model.hidden.0",
        "train.optimizer.learning_rate",
    }
    assert list((result.run_dir / "tensorboard").glob("*/execution0/validation/events.out.tfevents.*"))
    client = client_for(uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids)
    (search,) = [run for run in runs if "dlab.run_id" in run.data.tags]
    trials = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == search.info.run_id]
    assert len(trials) == result.metrics["tuner"]["trials"]["total"] == 2
    assert all("train.optimizer.learning_rate" in trial.data.params for trial in trials)
