"""Whole runs on JAX and PyTorch through the CLI: the experiments whose data paths differ most.

The parity test (test_backends.py) checks the math of one model per compute family; these
check that the experiments' own machinery (stateful character batches, tf.data windows,
text encoding, k-fold with a Normalization layer, an anomaly detector's figures, a per-pixel
softmax with its best checkpoint reloaded) runs end to end on another backend and says so in
metrics.json. PyTorch's cases skip where its CPU wheel is not installed.
"""

from __future__ import annotations

import json
import math

import pytest
from test_backends import dlab_run, only_run, requires_backend

pytestmark = pytest.mark.backend

CONFIGS = [
    "chargru-timemachine",
    "lstm-jena",
    "lstm-imdb",
    "kfold-boston",
    "autoencoder-fraud",
    "segmentation-pets",
]


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("config", CONFIGS)
def test_a_smoke_run_completes_on_another_backend(tmp_path, config, backend):
    requires_backend(backend)
    done = dlab_run(tmp_path, config, "--smoke", "--backend", backend, "--out", "out")
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((only_run(tmp_path / "out") / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert metrics["backend"] == backend and metrics["execution"]["backend"] == backend
    assert metrics["versions"][backend] == metrics["execution"]["backend_version"]
    test = metrics["test"]
    assert test and all(math.isfinite(value) for value in test.values()), test
