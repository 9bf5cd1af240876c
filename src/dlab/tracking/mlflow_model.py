"""A run's model.keras as an MLflow model: servable by MLflow, usable by ``dlab predict``.

The MLflow model (named ``model``, so ``runs:/<run id>/model`` finds it) is written by
``mlflow.keras.save_model`` (the ``keras`` flavour for Keras 3, with a pyfunc), with a
signature of tensors read from the model's inputs and outputs (``-1`` for the batch and
any free size) and an input example of zeros of that shape. Two things are dlab's:

- the folder is also a dlab run folder: ``model.keras`` is the run's own file, byte for
  byte, at the top (the flavour's ``data: model`` points at it; ``mlflow.keras`` loads
  ``<data>.keras``), next to inference.json (and vocabulary.txt), config.yaml and
  metrics.json, so ``dlab predict`` works on the downloaded folder and the weights are
  stored once;
- a model with dlab's own layers gets :mod:`dlab.tracking.mlflow_pyfunc` as its pyfunc
  loader and ``dlab`` in its requirements (see there).

It is logged as an MLflow 3 *logged model* of the run (``client.create_logged_model``,
``log_model_artifacts``, ``log_outputs``), and ``--register NAME`` makes it a version of
registered model NAME. Everything goes through the ``MlflowClient`` of the store: the
model version's source is the logged model's artifact location, because MLflow resolves
a ``models:/<id>`` source through the process-wide tracking URI instead of the client's.

Keras is started here when the process has not started it yet (``mlflow-sync``, a
sweep's own process): on the CPU only, so a sweep's process never takes a GPU its
runs need, and with TensorFlow's start-up lines kept off the console.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

import dlab
from dlab.runtime.backend import library_version
from dlab.runtime.tfenv import captured_native_stderr, prepare_environment
from dlab.tracking.mlflow_pyfunc import MODEL_FILE, load_for_inference
from dlab.tracking.mlflow_read import RunFolder, is_regular

MODEL_NAME = "model"
"""The logged model's name: ``runs:/<run id>/model``."""
COMPANIONS = ("inference.json", "vocabulary.txt", "config.yaml", "metrics.json")
"""What ``dlab predict`` reads besides model.keras, copied into the model folder."""
DLAB_LOADER = "dlab.tracking.mlflow_pyfunc"


def start_keras() -> Any:
    """Keras, as the process has it, or started on the CPU (TensorFlow quiet) when not yet."""
    if "keras" not in sys.modules:
        prepare_environment()
        lines: list[str] = []
        with captured_native_stderr(lines):
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                try:
                    tf.config.set_visible_devices([], "GPU")
                except RuntimeError:  # TensorFlow already placed something: leave it
                    pass
    import keras

    return keras


def uses_dlab_layers(model_file: Path) -> bool:
    """Whether the saved model names one of dlab's registered Keras objects (``dlab>...``)."""
    try:
        with zipfile.ZipFile(model_file) as archive:
            config = archive.read("config.json").decode("utf-8", errors="replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return False
    return '"dlab>' in config


def signature_and_example(model: Any) -> tuple[Any, Any]:
    """Tensor specs of the model's inputs and outputs, and an input example of zeros."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    def spec(tensor: Any, name: str | None) -> Any:
        shape = (-1, *(-1 if size is None else int(size) for size in tuple(tensor.shape)[1:]))
        return TensorSpec(np.dtype(str(tensor.dtype)), shape, name)

    inputs, outputs = list(model.inputs), list(model.outputs)
    named_in = len(inputs) > 1
    named_out = len(outputs) > 1
    signature = ModelSignature(
        Schema([spec(t, _name(t) if named_in else None) for t in inputs]),
        Schema([spec(t, _name(t) if named_out else None) for t in outputs]),
    )
    arrays = {
        _name(t): np.zeros((1, *(1 if s is None else int(s) for s in tuple(t.shape)[1:])), str(t.dtype))
        for t in inputs
    }
    example = arrays if named_in else next(iter(arrays.values()))
    return signature, example


def _name(tensor: Any) -> str:
    return str(getattr(tensor, "name", "") or "input").split(":")[0]


def requirements(keras: Any, dlab_layers: bool) -> list[str]:
    """Pinned: Keras, its backend's library, and dlab when the model needs dlab's layers."""
    backend = keras.backend.backend()
    pinned = [f"keras=={keras.__version__}"]
    version = library_version(backend)
    if version:
        pinned.append(f"{backend}=={version}")
    if dlab_layers:
        pinned.append(f"dlab=={dlab.__version__}")
    return pinned


def build(run: RunFolder, folder: Path) -> Path | None:
    """Write the run's MLflow model as ``folder/model``; None when the run has no model.keras.

    Raises:
        Exception: whatever Keras or MLflow raise for a model they cannot load or save
            (the caller logs the run without it and says why).
    """
    if run.model_file is None:
        return None
    keras = start_keras()  # before mlflow.keras, which imports Keras itself
    import mlflow.keras
    from mlflow.models import Model

    model = load_for_inference(run.model_file)
    signature, example = signature_and_example(model)
    dlab_layers = uses_dlab_layers(run.model_file)
    target = Path(folder) / MODEL_NAME
    target.mkdir(parents=True)
    mlflow.keras.save_model(
        model,
        str(target),
        signature=signature,
        input_example=example,
        pip_requirements=requirements(keras, dlab_layers),
        metadata={"dlab.run_id": run.identity, "dlab.config": run.config_name},
    )
    shutil.rmtree(target / "data")  # the re-saved copy: the run's own file replaces it
    shutil.copyfile(run.model_file, target / MODEL_FILE)
    for name in COMPANIONS:
        if is_regular(run.path / name):
            shutil.copyfile(run.path / name, target / name)
    described = Model.load(str(target / "MLmodel"))
    described.flavors["keras"]["data"] = Path(MODEL_FILE).stem
    if dlab_layers:
        described.flavors["python_function"]["loader_module"] = DLAB_LOADER
    described.model_size_bytes = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    described.save(str(target / "MLmodel"))
    return target


def find_logged_model(client: Any, experiment_id: str, run_id: str) -> Any:
    """The run's READY logged model named ``model``, or None."""
    token = None
    while True:
        page = client.search_logged_models(
            experiment_ids=[experiment_id], filter_string=f"name = '{MODEL_NAME}'", page_token=token
        )
        for model in page:
            if model.source_run_id == run_id and str(model.status).endswith("READY"):
                return model
        token = page.token
        if not token:
            return None


def log_model(client: Any, experiment_id: str, run_id: str, folder: Path, step: int, tags: dict) -> Any:
    """Log a built model folder as the run's logged model (READY once its files are stored)."""
    from mlflow.entities import LoggedModelOutput
    from mlflow.models import Model

    model = client.create_logged_model(
        experiment_id, name=MODEL_NAME, source_run_id=run_id, tags=tags, model_type="keras"
    )
    described = Model.load(str(folder / "MLmodel"))
    described.run_id, described.model_id = run_id, model.model_id
    described.artifact_path = model.artifact_location
    described.save(str(folder / "MLmodel"))
    try:
        client.log_model_artifacts(model.model_id, str(folder))
        client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=step)])
    except BaseException:
        client.finalize_logged_model(model.model_id, "FAILED")
        raise
    return client.finalize_logged_model(model.model_id, "READY")


def register(client: Any, name: str, run_id: str, model: Any) -> Any:
    """Make ``model`` a version of registered model ``name`` (once per run: a second call
    returns the version made before)."""
    from mlflow.exceptions import MlflowException

    for version in client.search_model_versions(f"name = '{_quoted(name)}' and run_id = '{run_id}'"):
        return version
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if "ALREADY_EXISTS" not in str(getattr(error, "error_code", "")):
            raise
    return client.create_model_version(
        name, source=model.artifact_location, run_id=run_id, model_id=model.model_id
    )


def _quoted(text: str) -> str:
    return text.replace("'", "\\'")
