"""Whole runs on JAX through the CLI: the experiments whose data paths differ most from a plain fit.

The parity test (test_backends.py) checks the math of one model per compute family; these
check that the experiments' own machinery (stateful character batches, tf.data windows,
text encoding, k-fold with a Normalization layer, an anomaly detector's figures) runs end to
end on another backend and says so in metrics.json.
"""

from __future__ import annotations

import json
import math

import pytest
from test_backends import dlab_run, only_run

pytestmark = pytest.mark.slow

CONFIGS = ["chargru-timemachine", "lstm-jena", "lstm-imdb", "kfold-boston", "autoencoder-fraud"]


@pytest.mark.parametrize("config", CONFIGS)
def test_a_smoke_run_completes_on_jax(tmp_path, config):
    done = dlab_run(tmp_path, config, "--smoke", "--backend", "jax", "--out", "out")
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((only_run(tmp_path / "out") / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert metrics["backend"] == "jax" and metrics["execution"]["backend"] == "jax"
    test = metrics["test"]
    assert test and all(math.isfinite(value) for value in test.values()), test
