"""One smoke run of every registered config, offline, through the CLI (like CI sweeps do)."""

from __future__ import annotations

import json

import pytest

from dlab.config import config_names

TOO_BIG_TO_SAVE = {"vgg11-fashion", "alexnet-fashion"}
"""0.2-0.5 GB of weights (x3 with Adam's state): test_reliability loads their architecture in
safe mode without weights; every other smoke run saves model.keras and loads it back."""


@pytest.mark.every_config
@pytest.mark.parametrize("name", config_names())
def test_every_config_runs_in_smoke_mode(cli, tmp_path, name):
    save = ["--no-save"] if name in TOO_BIG_TO_SAVE else []
    result = cli("run", name, "--smoke", "--device", "cpu", *save)
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / name).iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert metrics["data"]["source"] == "synthetic"
    assert list((run / "plots").glob("*.png")), "no figures written"
    model_file = run / "model.keras"
    if model_file.exists():  # every saved model loads in safe mode (no Lambda, no pickled code)
        import keras

        keras.models.load_model(model_file, safe_mode=True)
        model_file.unlink()  # the big CNNs would keep hundreds of MB in pytest's temp folders
