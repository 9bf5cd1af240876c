"""The speed table that ``train.backend: auto`` and ``train.steps_per_execution: auto`` read.

Trains one small model of each compute family (dense, convolutional, recurrent,
embedding, transfer, multi_hot) on the same synthetic data, on every installed Keras
backend and several steps-per-execution settings, and writes training samples/s to
``src/dlab/runtime/speed_table.json`` (``--write``) or prints it. Each backend runs in
its own subprocess (Keras fixes its backend at import); settings are interleaved
within a backend, and the median of ``--repeats`` timed epochs is kept. ``--write``
with ``--families`` replaces those families' rows and keeps the others.

The multi_hot family is fed as dlab feeds it: sparse batches into a sparse first layer
on TensorFlow (:mod:`dlab.data.modalities.sparse_rows`), dense arrays elsewhere; at batch 512, the
size of the catalogue's multi-hot configs (every other family: 32).

    .venv/bin/python benchmarks/bench_backends.py --write
    .venv/bin/python benchmarks/bench_backends.py --backends tensorflow,jax --steps 1,8,32
    .venv/bin/python benchmarks/bench_backends.py --families multi_hot --write
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

TABLE = Path(__file__).resolve().parents[1] / "src" / "dlab" / "runtime" / "speed_table.json"
FAMILIES = ("dense", "convolutional", "recurrent", "embedding", "transfer", "multi_hot")
BATCH_SIZES = {"multi_hot": 512}
"""Batch size per family where it is not 32: the catalogue's multi-hot MLPs train at 512."""


def build(family: str):
    """(model, x, y) of a family, on fixed synthetic data (the same on every backend)."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    layers = keras.layers
    if family == "dense":  # the MNIST MLP of the lab reports
        x, y = rng.random((6400, 28, 28), dtype="float32"), rng.integers(0, 10, 6400)
        model = keras.Sequential(
            [keras.Input((28, 28)), layers.Flatten(), layers.Dense(128, "relu"), layers.Dense(10)]
        )
    elif family == "convolutional":  # the CIFAR-10 CNN of the lab reports
        x, y = rng.random((1280, 32, 32, 3), dtype="float32"), rng.integers(0, 10, 1280)
        model = keras.Sequential(
            [keras.Input((32, 32, 3)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
             layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
             layers.Conv2D(64, 3, activation="relu"), layers.Flatten(), layers.Dense(64, "relu"),
             layers.Dense(10)]
        )  # fmt: skip
    elif family == "recurrent":  # the IMDB LSTM
        x, y = rng.integers(1, 10000, (1280, 200)), rng.integers(0, 2, 1280)
        model = keras.Sequential(
            [keras.Input((200,)), layers.Embedding(10000, 32), layers.LSTM(32), layers.Dense(10)]
        )
    elif family == "embedding":  # bag of embeddings
        x, y = rng.integers(1, 10000, (6400, 100)), rng.integers(0, 10, 6400)
        model = keras.Sequential(
            [
                keras.Input((100,)),
                layers.Embedding(10000, 16),
                layers.GlobalAveragePooling1D(),
                layers.Dense(10),
            ]
        )
    elif family == "multi_hot":  # the IMDB MLP: 10,000 words, about 1.3% of them in a review
        x = (rng.random((12800, 10000)) < 0.013).astype("uint8")
        y = rng.integers(0, 10, 12800)
        from dlab.data.modalities.sparse_rows import sparse_input_supported
        from dlab.models.sparse_dense import SparseInputDense

        sparse = sparse_input_supported()
        first = SparseInputDense(16, activation="relu") if sparse else layers.Dense(16, "relu")
        model = keras.Sequential(
            [keras.Input((10000,), sparse=sparse), first, layers.Dense(16, "relu"), layers.Dense(10)]
        )
    else:  # a frozen convolutional backbone under a trainable head
        x, y = rng.random((1280, 32, 32, 3), dtype="float32"), rng.integers(0, 10, 1280)
        backbone = keras.Sequential(
            [keras.Input((32, 32, 3)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
             layers.Conv2D(64, 3, activation="relu"), layers.GlobalAveragePooling2D()]
        )  # fmt: skip
        backbone.trainable = False
        model = keras.Sequential(
            [keras.Input((32, 32, 3)), backbone, layers.Dense(64, "relu"), layers.Dense(10)]
        )
    return model, x, y


def measure(family: str, settings: list[int], repeats: int) -> dict[int, float]:
    """Median training samples/s per steps-per-execution setting, the settings interleaved.

    One model per setting, each warmed up by one epoch (tracing, kernel selection); then
    ``repeats`` rounds time one epoch of every setting in turn, so that drift on a shared
    machine (and the first-model costs of a family) hits all settings alike.
    """
    import keras

    from dlab.data.modalities.sparse_rows import reads_sparse_inputs, sparse_batches

    batch_size = BATCH_SIZES.get(family, 32)
    models = {}
    for setting in settings:
        keras.utils.set_random_seed(0)
        model, x, y = build(family)
        model.compile(
            optimizer=keras.optimizers.SGD(0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            steps_per_execution=setting,
        )
        if reads_sparse_inputs(model):  # dlab's fit_inputs does the same
            inputs = {"x": sparse_batches(x, y, batch_size)}
        else:
            inputs = {"x": x, "y": y, "batch_size": batch_size}
        model.fit(**inputs, epochs=1, verbose=0)  # compile and warm up
        models[setting] = (model, inputs)
    rates: dict[int, list[float]] = {setting: [] for setting in settings}
    for _ in range(repeats):
        for setting, (model, inputs) in models.items():
            start = time.perf_counter()
            model.fit(**inputs, epochs=1, verbose=0)
            rates[setting].append(len(x) / (time.perf_counter() - start))
    return {setting: statistics.median(values) for setting, values in rates.items()}


def worker(steps: list[int], repeats: int, families: list[str]) -> None:
    """One backend (already set in KERAS_BACKEND): print {family: {steps: samples/s}} as JSON."""
    import keras

    from dlab.training.execution import ONE_STEP_BACKENDS

    if keras.backend.backend() in ONE_STEP_BACKENDS:  # PyTorch: Keras refuses more than 1 per call
        steps = [1]
    result: dict[str, dict[str, float]] = {}
    for family in families:
        rates = measure(family, steps, repeats)
        result[family] = {str(setting): round(rate, 1) for setting, rate in rates.items()}
        print(f"# {keras.backend.backend()} {family}: {result[family]}", file=sys.stderr, flush=True)
    print(json.dumps(result))


def cpu_model() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--steps", default="1,4,16,64")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"write {TABLE}")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps = [int(value) for value in args.steps.split(",")]
    families = args.families.split(",")
    if args.worker:
        worker(steps, args.repeats, families)
        return
    table: dict[str, dict[str, dict[str, float]]] = {family: {} for family in families}
    for backend in args.backends.split(","):
        if importlib.util.find_spec(backend) is None:
            print(f"{backend}: not installed, skipped")
            continue
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
        command = [sys.executable, __file__, "--worker", "--steps", args.steps, "--families", args.families,
                   "--repeats", str(args.repeats)]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        for family, speeds in json.loads(done.stdout.strip().splitlines()[-1]).items():
            table[family][backend] = speeds
    print(f"{'family':<14} {'backend':<11} " + " ".join(f"spe={s:<6}" for s in steps))
    baseline = {family: table[family].get("tensorflow", {}).get("1") for family in families}
    for family in families:
        for backend, speeds in table[family].items():
            cells = []
            for setting in steps:
                value = speeds.get(str(setting))
                ratio = f"{value / baseline[family]:.1f}x" if value and baseline[family] else "-"
                cells.append(f"{value:>8.0f} {ratio:<5}" if value else "-")
            print(f"{family:<14} {backend:<11} " + " ".join(cells))
    if args.write:
        measured_at = time.strftime("%Y-%m-%d")
        kept = {}
        if set(families) != set(FAMILIES) and TABLE.exists():  # a partial run keeps the other rows
            old = json.loads(TABLE.read_text(encoding="utf-8"))
            kept = {name: rows for name, rows in old.get("samples_per_s", {}).items() if name not in families}
            if old.get("measured_at") != measured_at:
                measured_at = f"{old.get('measured_at', '?')}; {', '.join(families)}: {measured_at}"
        document = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {cpu_model()}",
            "measured_at": measured_at,
            "batch_size": 32,
            "batch_sizes": BATCH_SIZES,
            "unit": "training samples per second (median of timed epochs)",
            "samples_per_s": {**kept, **table},
        }
        TABLE.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
