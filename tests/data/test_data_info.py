"""dlab data info on every dataset's smoke twin (offline), on a real file, and its figure."""

from __future__ import annotations

import json

import pytest

from dlab.config import config_names, find_config, load_yaml_chain


def one_config_per_dataset() -> list[str]:
    chosen: dict[str, str] = {}
    for name in config_names():
        dataset = load_yaml_chain(find_config(name), {}).get("data", {}).get("dataset")
        chosen.setdefault(dataset, name)
    return sorted(chosen.values())


@pytest.mark.parametrize("config", one_config_per_dataset())
def test_data_info_on_every_smoke_twin(cli, config):
    result = cli("data", "info", config, "--smoke", "--json", "--plot", "figure.png")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["source"] in ("synthetic", "builtin")
    assert report["splits"]["train"]["samples"] > 0
    from pathlib import Path

    assert Path("figure.png").stat().st_size > 1000


def test_data_info_reports_balance_lengths_and_missing_values(cli):
    text = json.loads(cli("data", "info", "mlp-imdb", "--smoke", "--json").output)
    train = text["splits"]["train"]
    assert set(train["class_balance"]) == {"negative", "positive"}
    assert train["x"]["length_percentiles"]["p50"] > 10
    table = json.loads(cli("data", "info", "higgs-tiny", "--smoke", "--json").output)
    assert table["splits"]["train"]["x"]["missing"] == 0
    console = cli("data", "info", "cnn-cifar10", "--smoke")
    assert "classes" in console.output and "airplane" in console.output


def test_data_info_reads_real_files_and_refuses_bad_ones(cli, tmp_path):
    from conftest import write_cifar_npz

    npz = write_cifar_npz(tmp_path / "c.npz")
    result = cli(
        "data", "info", "cnn-cifar10", "--set", "data.source=file", "--set", f"data.path={npz}", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["location"] == str(npz) and report["splits"]["test"]["samples"] == 20
    missing = cli("data", "info", "cnn-cifar10", "--set", "data.source=file", "--set", "data.path=nope.npz")
    assert missing.exit_code == 2 and "does not exist" in missing.output and "Traceback" not in missing.output
