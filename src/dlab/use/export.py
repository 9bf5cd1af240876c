"""``dlab export``: a run's model as a TensorFlow SavedModel, a LiteRT flatbuffer or an ONNX graph,
checked by running the artifact in its own runtime.

Export is Keras 3's ``model.export`` (formats ``tf_saved_model``, ``litert``, ``onnx``). A file
that was written is not yet a model that works, so dlab reloads it where it would be deployed
(``tf.saved_model.load``, the LiteRT interpreter, an onnxruntime session), runs it on a batch
of the run's test data next to the Keras model, and fails when the largest absolute
difference exceeds the tolerance (1e-4 for float32). Where it writes, and what ``--force``
may replace, is :mod:`dlab.use.export_target`'s to decide: never anything dlab did not make.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlab.errors import DlabError, UsageError, did_you_mean
from dlab.framework import registry
from dlab.results.index import SavedRun
from dlab.runtime.tfenv import captured_native_stderr
from dlab.use import export_target
from dlab.use.runs import keras_model, open_run, run_config
from dlab.use.runtime import start_keras

FORMATS = {"saved_model": "tf_saved_model", "litert": "litert", "onnx": "onnx"}
"""dlab's format name -> Keras's ``model.export`` format."""

DEFAULT_NAMES = {"saved_model": "saved_model", "litert": "model.tflite", "onnx": "model.onnx"}

NEEDS = {
    "saved_model": [],
    "litert": [("ai_edge_litert", "ai-edge-litert")],
    "onnx": [("tf2onnx", "tf2onnx"), ("onnx", "onnx"), ("onnxruntime", "onnxruntime")],
}
"""Per format, the (module, package) pairs the export and its round trip import."""

TOLERANCE = 1e-4


class ExportMismatch(DlabError):
    """The exported artifact answers differently from the Keras model (exit 1)."""


@dataclass
class ExportResult:
    """Where the artifact went and how closely it reproduces the Keras model."""

    run_dir: Path
    format: str
    path: Path
    samples: int
    max_abs_diff: float
    tolerance: float
    seconds: float
    size_bytes: int

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance


def check_format(name: str) -> str:
    """``name`` as one of :data:`FORMATS`, with its converter packages present.

    Raises:
        UsageError: an unknown format, or a converter package missing (naming the extra).
    """
    if name not in FORMATS:
        raise UsageError(
            f"Unknown export format '{name}'.{did_you_mean(name, FORMATS)} Allowed: {', '.join(FORMATS)}."
        )
    missing = [package for module, package in NEEDS[name] if not _importable(module)]
    if missing:
        raise UsageError(
            f"--format {name} needs the package(s) {', '.join(missing)}, which are not installed. "
            "Install the export extra: pip install 'dlab[export]' (or pip install "
            f"{' '.join(missing)})."
        )
    return name


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # hidden or half-removed
        return False


def refuse_unsupported(model: Any, fmt: str) -> None:
    """Refuse layers a format cannot hold, naming them, before a converter fails obscurely.

    Raises:
        UsageError: a stateful recurrent layer for LiteRT or ONNX (its state lives between calls).
    """
    if fmt == "saved_model":
        return
    stateful = [layer.name for layer in model._flatten_layers() if getattr(layer, "stateful", False)]
    if stateful:
        raise UsageError(
            f"--format {fmt} cannot hold the stateful recurrent layer(s) {', '.join(stateful)} "
            "(their state is carried from one call to the next, which the converted graph has no "
            "place for). Export this run with --format saved_model, or train it with "
            "--set model.sampling=random (a stateless layer)."
        )


def embed_statistics(model: Any) -> None:
    """Make adapted ``Normalization`` statistics NumPy constants of the in-memory model (for ONNX).

    Keras keeps an adapted layer's mean and variance as eager tensors; tf2onnx turns such
    captured tensors into extra graph *inputs* (``.../Sub/y:0``), so the ONNX model cannot run
    on the features alone. NumPy arrays are traced as constants instead. Only the model being
    exported changes; model.keras is untouched.
    """
    import keras

    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Normalization) and getattr(layer, "mean", None) is not None:
            object.__setattr__(layer, "mean", np.asarray(layer.mean))  # bypasses Keras's state lock
            object.__setattr__(layer, "variance", np.asarray(layer.variance))


def test_batch(run: SavedRun, model: Any, count: int = 32) -> np.ndarray:
    """The first ``count`` inputs of the run's test split, loaded as the run loaded its data.

    Raises:
        UsageError: the test inputs are not what the model takes (e.g. a language model's text).
    """
    config = run_config(run)
    data = registry.get(config.experiment)().load_data(config)
    if hasattr(data, "batches"):
        x = next(iter(data.batches("test", count)))[0]
    else:
        x = data.x_test[:count]
    x = np.asarray(x)
    expected = tuple(model.inputs[0].shape[1:])
    if tuple(x.shape[1:]) != expected:
        raise UsageError(
            f"{run.path}: the test data's samples have shape {x.shape[1:]}, the model takes "
            f"{expected}; dlab cannot check an export of this run."
        )
    return x[:count]


def export(
    run_path: str | Path,
    fmt: str,
    *,
    output: str | Path | None = None,
    force: bool = False,
    tolerance: float = TOLERANCE,
    device: str = "cpu",
    debug: bool = False,
) -> ExportResult:
    """Export a run's model, reload it in its runtime and compare it with Keras on test data.

    The artifact goes to a new path; ``force`` lets it replace only an export dlab made there
    (see :mod:`dlab.use.export_target`). It is written beside the target under a hidden name,
    checked, then renamed into place, so a failed export leaves the target as it was.

    Raises:
        UsageError: bad format, missing converter, unsupported layer, no model in the run, or a
            target dlab may not write (an existing path, the run folder, a read-only folder).
        ExportMismatch: the artifact's outputs differ by more than ``tolerance``.
    """
    check_format(fmt)
    if fmt == "litert" and output is not None and Path(output).suffix != ".tflite":
        raise UsageError(f"--output {output}: a LiteRT model is one file whose name ends in .tflite.")
    run = open_run(run_path, command="dlab export")
    default = run.path / "export" / DEFAULT_NAMES[fmt]
    target = export_target.plan(run.path, fmt, output, default, force=force)
    start_keras(device, debug)
    model = keras_model(run)
    refuse_unsupported(model, fmt)
    x = test_batch(run, model)
    expected = np.asarray(model.predict(x, verbose=0))
    if fmt == "onnx":
        embed_statistics(model)
    scratch = target.scratch()
    try:
        got, seconds = _export_and_run(model, fmt, scratch, x, run.path, debug)
        export_target.install(scratch, target, {"dlab_export": 1, "format": fmt, "run": str(run.path)})
    finally:
        export_target.remove(scratch)  # gone already when it was installed
    diff = float(np.max(np.abs(np.asarray(got, dtype=np.float64).reshape(expected.shape) - expected)))
    path = target.path
    result = ExportResult(run.path, fmt, path, len(x), diff, tolerance, round(seconds, 3), _size(path))
    if not result.passed:
        raise ExportMismatch(
            f"The {fmt} export at {path} differs from the Keras model by up to {diff:.3g} on "
            f"{len(x)} test samples (tolerance {tolerance:g}); do not ship it."
        )
    return result


def _size(path: Path) -> int:
    """Bytes of a one-file artifact, or of every file in an artifact folder."""
    if not path.is_dir():
        return path.stat().st_size
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def _export_and_run(
    model: Any, fmt: str, path: Path, x: np.ndarray, run_dir: Path, debug: bool
) -> tuple[np.ndarray, float]:
    """Write the artifact to ``path`` and run it on ``x`` in its own runtime: (outputs, seconds).

    Raises:
        UsageError: the converter or the runtime failed (the format and why).
    """
    started = time.perf_counter()
    log: list[str] = []  # the converters' native log lines (MLIR, XNNPACK): only under --debug
    try:
        with warnings.catch_warnings(), captured_native_stderr(log):
            warnings.simplefilter("ignore", FutureWarning)  # tf2onnx's np.object probe in Keras
            model.export(str(path), format=FORMATS[fmt], verbose=False)
            seconds = time.perf_counter() - started
            got = RUNNERS[fmt](path, x.astype(np.float32) if x.dtype != np.int32 else x)
    except Exception as error:  # noqa: BLE001 - a converter's own limits: say which format and why
        raise UsageError(
            f"Keras could not export {run_dir} as {fmt}: {type(error).__name__}: {str(error)[:600]}"
        ) from None
    finally:
        if debug and log:
            print("\n".join(log), file=sys.stderr)
    return got, seconds


def _run_saved_model(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    return np.asarray(loaded.serve(tf.constant(x)))


def _run_litert(path: Path, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    source = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(source["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], x.astype(source["dtype"]))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    source = session.get_inputs()[0]
    dtype = np.int32 if "int32" in source.type else (np.int64 if "int64" in source.type else np.float32)
    return session.run(None, {source.name: x.astype(dtype)})[0]


RUNNERS = {"saved_model": _run_saved_model, "litert": _run_litert, "onnx": _run_onnx}
