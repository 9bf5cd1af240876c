"""MLflow models (issue 29), for real: a Keras run logged with ``--mlflow --register`` to a SQLite
store, read back with MlflowClient, loaded with ``mlflow.pyfunc.load_model``, served by a real
``mlflow models serve`` on 127.0.0.1, and used by ``dlab predict`` from the downloaded artifacts;
``mlflow-sync`` of the same run and of a sweep gives what a live run and a live sweep give."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from conftest import TRACKED_MODEL, copy_store

from dlab import api

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None, reason="the mlflow extra is not installed"
)  # not importorskip: collecting the suite must not import MLflow


@pytest.fixture(scope="module")
def mlflow():
    """MLflow, imported when a test here runs."""
    import mlflow

    return mlflow


def MlflowClient(tracking_uri: str):  # noqa: N802 - reads as the class it returns an instance of
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


REGISTERED = TRACKED_MODEL


@pytest.fixture(scope="module")
def live(tracked_run):
    """(RunResult, store URI, MLflow run) of the session's tracked run: mlp-mnist logged live with
    --mlflow --register REGISTERED (tests/conftest.py's ``tracked_run``)."""
    result, uri = tracked_run
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return result, uri, run


@pytest.fixture
def tracking_uri(mlflow):
    """Point MLflow's process-wide URI (what ``runs:/`` and ``models:/`` resolve with) at a store."""
    previous = mlflow.get_tracking_uri()

    def use(uri: str) -> None:
        mlflow.set_tracking_uri(uri)

    yield use
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """Five MNIST-shaped uint8 images in an .npz, as `dlab predict` reads them."""
    x = np.random.default_rng(7).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    path = tmp_path_factory.mktemp("inputs") / "digits.npz"
    np.savez(path, x=x)
    return path, x


def logged_model(client, run):
    (model,) = [
        m for m in client.search_logged_models([run.info.experiment_id]) if m.source_run_id == run.info.run_id
    ]
    return model


def model_files(client, model) -> set[str]:
    """The logged model's files (without the ``registered_model_meta`` that loading ``models:/NAME/1``
    from a local store writes into it)."""
    files = {item.path for item in client.list_logged_model_artifacts(model.model_id)}
    return files - {"registered_model_meta"}


def test_a_live_run_logs_an_mlflow_model_and_registers_it(live, mlflow):
    result, uri, run = live
    client = MlflowClient(tracking_uri=uri)
    assert run.info.run_name == f"mlp-mnist · {result.run_dir.name.rsplit('-', 1)[-1]}"
    model = logged_model(client, run)
    assert model.name == "model" and str(model.status).endswith("READY")
    files = model_files(client, model)
    assert {"MLmodel", "model.keras", "inference.json", "config.yaml", "metrics.json"} <= files
    assert {"input_example.json", "requirements.txt"} <= files
    run_files = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"inference.json", "config.yaml", "metrics.json", "history.csv", "plots"} <= run_files
    assert "model.keras" not in run_files  # stored once, in the MLflow model
    (version,) = client.search_model_versions(f"name = '{REGISTERED}'")
    assert version.run_id == run.info.run_id and version.status == "READY"
    meta = mlflow.models.Model.load(urlparse(model.artifact_location).path)  # a local store
    assert meta.flavors["keras"]["data"] == "model"
    assert meta.flavors["python_function"]["loader_module"] == "mlflow.keras"
    inputs = json.loads(meta.signature.to_dict()["inputs"])
    assert inputs[0]["tensor-spec"] == {"dtype": "float32", "shape": [-1, 28, 28, 1]}


def test_the_mlflow_model_predicts_what_the_run_predicts(live, images, tracking_uri, mlflow):
    result, uri, run = live
    path, x = images
    tracking_uri(uri)
    by_run = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    by_name = mlflow.pyfunc.load_model(f"models:/{REGISTERED}/1")
    expected = api.predict(str(result.run_dir), [str(path)], top=10, device="cpu")
    for model in (by_run, by_name):
        probabilities = np.asarray(model.predict(x.astype("float32")))
        assert probabilities.shape == (5, 10)
        for row, probs in zip(expected.rows, probabilities, strict=True):
            assert row["class"] == str(int(np.argmax(probs)))
            assert row["probability"] == pytest.approx(float(probs.max()), abs=1e-5)


def test_dlab_predict_works_on_the_downloaded_mlflow_model(live, images, tracking_uri, mlflow, tmp_path):
    result, uri, run = live
    path, _ = images
    tracking_uri(uri)
    folder = Path(
        mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/model", dst_path=str(tmp_path))
    )
    assert (folder / "MLmodel").is_file() and (folder / "model.keras").is_file()
    downloaded = api.predict(str(folder), [str(path)], device="cpu")
    original = api.predict(str(result.run_dir), [str(path)], device="cpu")
    assert downloaded.rows == original.rows and len(original.rows) == 5


@pytest.mark.engine
def test_mlflow_models_serve_answers_invocations(live, images, tracking_uri, mlflow, tmp_path):
    """A real `mlflow models serve --env-manager local` of the registered version on loopback."""
    from dlab.tracking.tensorboard import free_port

    result, uri, run = live
    _, x = images
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{REGISTERED}/1"]
        + ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "TF_CPP_MIN_LOG_LEVEL": "3"},
        stdout=open(tmp_path / "serve.log", "wb"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: uvicorn and its workers stop with it
    )
    try:
        deadline, ready = time.monotonic() + 180, False
        while not ready and time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as answer:
                    ready = answer.status == 200
            except OSError:
                time.sleep(1)
        assert ready, (tmp_path / "serve.log").read_text()[-3000:]
        body = json.dumps({"inputs": x.astype("float32").tolist()}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            served = np.asarray(json.loads(answer.read())["predictions"])
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
    tracking_uri(uri)
    local = np.asarray(mlflow.pyfunc.load_model(f"models:/{REGISTERED}/1").predict(x.astype("float32")))
    assert served.shape == (5, 10)
    np.testing.assert_allclose(served, local, rtol=1e-5, atol=1e-6)


def _shape(client, run) -> dict:
    """What a logged run looks like, without ids and times."""
    model = logged_model(client, run)
    return {
        "name": run.info.run_name,
        "status": run.info.status,
        "experiment": client.get_experiment(run.info.experiment_id).name,
        "tags": {
            k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.") or k == "mlflow.runName"
        },
        "params": run.data.params,
        "metrics": sorted(run.data.metrics),
        "artifacts": sorted(item.path for item in client.list_artifacts(run.info.run_id)),
        "model_files": sorted(model_files(client, model)),
    }


def test_mlflow_sync_logs_a_run_as_a_live_run_logs_it(live, cli, mlflow_store_template, tmp_path):
    result, uri, run = live
    synced_uri = copy_store(mlflow_store_template, tmp_path / "synced")
    first = cli("mlflow-sync", str(result.run_dir), "--mlflow-uri", synced_uri, "--register", REGISTERED)
    assert first.exit_code == 0, first.output
    assert f"model registered: {REGISTERED} version 1" in first.output
    again = cli("mlflow-sync", str(result.run_dir), "--mlflow-uri", synced_uri, "--register", REGISTERED)
    assert "0 run(s) logged, 1 already in MLflow" in again.output  # and still version 1 only
    client, synced_client = MlflowClient(tracking_uri=uri), MlflowClient(tracking_uri=synced_uri)
    (synced,) = synced_client.search_runs([e.experiment_id for e in synced_client.search_experiments()])
    assert _shape(synced_client, synced) == _shape(client, run)
    (version,) = synced_client.search_model_versions(f"name = '{REGISTERED}'")
    assert version.run_id == synced.info.run_id


@pytest.mark.subprocess
def test_a_synced_sweep_has_the_shape_of_a_live_sweep(cli, mlflow_store_template, tmp_path):
    live_uri = copy_store(mlflow_store_template, tmp_path / "live")
    swept = api.sweep(
        ["perceptron-and"],
        grid=["train.optimizer.learning_rate=0.5,1.0"],
        out=tmp_path / "outputs",
        mlflow=True,
        mlflow_uri=live_uri,
    )
    assert swept.exit_code == 0, swept.rows
    synced_uri = copy_store(mlflow_store_template, tmp_path / "synced")
    synced = cli("mlflow-sync", "outputs", "--mlflow-uri", synced_uri)  # the sweep is found below outputs
    assert synced.exit_code == 0, synced.output
    assert "2 run(s) logged" in synced.output

    def sweep_shape(uri: str) -> dict:
        client = MlflowClient(tracking_uri=uri)
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        (parent,) = [r for r in runs if "dlab.sweep" in r.data.tags]
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(runs) == 3, [r.info.run_name for r in runs]
        return {
            "experiment": client.get_experiment(parent.info.experiment_id).name,
            "parent": (parent.info.run_name, parent.info.status, parent.data.params),
            "parent_tags": {k: v for k, v in parent.data.tags.items() if k.startswith("dlab.")},
            "parent_artifacts": sorted(a.path for a in client.list_artifacts(parent.info.run_id)),
            "children": sorted(
                (c.info.run_name, c.info.status, c.data.params["train.optimizer.learning_rate"])
                for c in children
            ),
            "same_experiment": {c.info.experiment_id for c in children} == {parent.info.experiment_id},
        }

    live_shape, synced_shape = sweep_shape(live_uri), sweep_shape(synced_uri)
    assert synced_shape == live_shape
    assert live_shape["children"] == [
        ("perceptron-and · learning_rate=0.5", "FINISHED", "0.5"),
        ("perceptron-and · learning_rate=1.0", "FINISHED", "1.0"),
    ]
    assert live_shape["parent"][0] == f"perceptron-and · {swept.sweep_dir.name.rsplit('-', 1)[-1]}"
    assert live_shape["same_experiment"] and live_shape["parent"][1] == "FINISHED"
    assert {"summary.csv", "summary.json"} <= set(live_shape["parent_artifacts"])


def test_register_without_mlflow_is_refused_before_anything_runs(cli, tmp_path):
    result = cli("run", "perceptron-and", "--register", "dlab-and")
    assert result.exit_code == 2, result.output
    assert "--register dlab-and is given without --mlflow" in result.output
    assert not (tmp_path / "outputs").exists()


@pytest.mark.heavy
def test_a_model_with_a_dlab_layer_is_served_through_dlabs_loader(cli, store, tracking_uri, mlflow, tmp_path):
    """mlp-reuters-sparse uses dlab>SparseInputDense, which mlflow.keras cannot load in safe mode."""
    from dlab.tracking.mlflow_pyfunc import load_for_inference

    result = api.run(
        "mlp-reuters-sparse", smoke=True, epochs=1, device="cpu", out=tmp_path / "outputs", quiet=True
    )
    synced = cli("mlflow-sync", str(result.run_dir), "--mlflow-uri", store, "--register", "reuters")
    assert synced.exit_code == 0, synced.output
    tracking_uri(store)
    model = mlflow.pyfunc.load_model("models:/reuters/1")
    assert model.metadata.flavors["python_function"]["loader_module"] == "dlab.tracking.mlflow_pyfunc"
    width = model.metadata.get_input_schema().inputs[0].shape[1]
    x = (np.random.default_rng(3).random((4, width)) < 0.01).astype("float32")
    expected = load_for_inference(result.run_dir / "model.keras").predict(x, verbose=0)
    np.testing.assert_allclose(np.asarray(model.predict(x)), expected, rtol=1e-6, atol=1e-7)


def test_a_runs_tags_note_and_commit_reach_mlflow(cli, store, tmp_path):
    made = cli("run", "perceptron-and", "--out", "o", "-q", "--tag", "purpose=baseline", "--tag", "dlab.x=1")
    assert made.exit_code == 0, made.output
    (run_dir,) = (tmp_path / "o" / "perceptron-and").iterdir()
    assert cli("tag", str(run_dir), "--note", "the cited one").exit_code == 0
    synced = cli("mlflow-sync", str(run_dir), "--mlflow-uri", store)
    assert synced.exit_code == 0, synced.output
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    tags = run.data.tags
    assert tags["purpose"] == "baseline" and tags["user.dlab.x"] == "1"  # never one of dlab's own
    assert tags["mlflow.note.content"] == "the cited one"
    assert tags["dlab.command"].startswith("dlab run perceptron-and")
    provenance = json.loads((run_dir / "metrics.json").read_text())["provenance"]
    if provenance["git"]:
        assert tags["mlflow.source.git.commit"] == provenance["git"]["commit"]
