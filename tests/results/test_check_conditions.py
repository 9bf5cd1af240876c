"""dlab check judges only comparable runs: a reference states the conditions it holds under and
whether it is one-sided; a run that differs is "not comparable", exit code 3 (issue 29, point 3)."""

from __future__ import annotations

import json

import pytest
import yaml
from fake_runs import make_run

from dlab.config import config_names
from dlab.errors import ConfigError
from dlab.framework.factory import resolve_config
from dlab.results.references import read_references, unmet_conditions

FULL_CIFAR = {"epochs": 10, "data_source": "keras", "train_samples": "all"}


def run_with(root, *, accuracy=0.915, epochs=10, source="keras", train_samples=None, reference=None, **kw):
    """A fake cnn-cifar10 run whose saved config trained ``epochs`` on ``source``."""
    reference = reference or {
        "test_accuracy": {"value": 0.714, "side": "at_least", "conditions": FULL_CIFAR, "source": "lab"}
    }
    run_dir = make_run(root, accuracy=accuracy, source=source, reference=reference, **kw)
    data = yaml.safe_load((run_dir / "config.yaml").read_text())
    data["train"]["epochs"] = epochs
    data["data"]["train_samples"] = train_samples
    (run_dir / "config.yaml").write_text(yaml.safe_dump(data))
    return run_dir


def checked(cli, *runs):
    result = cli("check", *map(str, runs), "-f", "json")
    return result.exit_code, json.loads(result.output)["checks"]


def test_a_short_run_on_a_small_file_is_not_comparable_and_exits_3(cli, tmp_path):
    """The issue's run: 2 epochs on a 600-sample file, 0.915 against a 10-epoch published 0.714."""
    run = run_with(tmp_path / "outputs", epochs=2, source="file", train_samples=600)
    result = cli("check", str(run))
    assert result.exit_code == 3, result.output
    assert "OUTSIDE" not in result.output
    assert "not comparable (epochs 2, not 10; data_source file, not keras; train_samples 600, not all)" in (
        " ".join(result.output.split())
    )
    assert "0 failing, 1 not comparable" in result.output
    code, rows = checked(cli, run)
    assert rows[0]["result"] == "not comparable" and rows[0]["note"].startswith("epochs 2, not 10")


def test_a_one_sided_reference_does_not_fail_a_run_for_doing_better(cli, tmp_path):
    better = run_with(tmp_path / "a", accuracy=0.915)
    code, rows = checked(cli, better)
    assert code == 0 and rows[0]["result"] == "within" and rows[0]["side"] == "at_least"
    assert rows[0]["expected_text"] == "0.714 or above"
    assert "0.201 (+28.2%) above 0.714: at least the reference (one-sided)" in rows[0]["why"]
    worse = run_with(tmp_path / "b", accuracy=0.60)
    code, rows = checked(cli, worse)
    assert code == 1 and rows[0]["result"] == "OUTSIDE" and "outside +-5%" in rows[0]["why"]
    slightly = run_with(tmp_path / "c", accuracy=0.70)  # below, but within the tolerance
    assert checked(cli, slightly)[0] == 0
    loss = {"test_loss": {"value": 0.862, "side": "at_most", "conditions": FULL_CIFAR, "source": "lab"}}
    lower = run_with(tmp_path / "d", reference=loss)  # make_run's test loss 0.9: 4% above, within
    assert checked(cli, lower)[1][0]["result"] == "within"
    two_sided = {"test_accuracy": {"value": 0.714, "conditions": FULL_CIFAR, "source": "lab"}}
    assert checked(cli, run_with(tmp_path / "e", reference=two_sided))[0] == 1  # far better: not reproduced


def test_exit_codes_put_a_failure_before_not_comparable(cli, tmp_path):
    root = tmp_path / "outputs"
    comparable = run_with(root, run_id="20261122-100000-aaaaaa", accuracy=0.72)
    apart = run_with(root, run_id="20261122-100001-bbbbbb", epochs=2)
    failing = run_with(root, run_id="20261122-100002-cccccc", accuracy=0.5)
    assert checked(cli, comparable)[0] == 0
    assert checked(cli, comparable, apart)[0] == 3
    assert checked(cli, comparable, apart, failing)[0] == 1
    data = json.loads(cli("check", str(apart), "-f", "json").output)
    assert data["exit_code"] == 3 and data["not_comparable"] == 1 and data["failed"] == 0


def test_sample_conditions_compare_the_runs_saved_limits(tmp_path):
    config = {
        "train": {"epochs": 20},
        "data": {"source": "keras", "train_samples": 11000, "test_samples": None},
    }
    (reference,) = read_references(
        {
            "val_accuracy": {
                "low": 0.5,
                "high": 0.7,
                "conditions": {"train_samples": 11000, "test_samples": "all"},
            }
        }
    )
    assert unmet_conditions(reference, config) == []
    config["data"].update(train_samples=None, test_samples=100)
    assert unmet_conditions(reference, config) == [
        "train_samples all, not 11000",
        "test_samples 100, not all",
    ]
    (old,) = read_references({"x": {"value": 1.0, "conditions": "garbage", "side": "sideways"}})
    assert old.conditions == () and old.side == "both"  # a saved config from anywhere reads defensively


def test_smoke_runs_stay_not_comparable_and_include_smoke_judges_them_whatever_the_conditions(cli, tmp_path):
    run = run_with(tmp_path / "outputs", accuracy=0.1, smoke=True, epochs=1)
    code, rows = checked(cli, run)
    assert code == 3 and rows[0]["note"] == "smoke run on synthetic data"
    result = cli("check", str(run), "--include-smoke")
    assert result.exit_code == 1 and "OUTSIDE" in result.output


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"max": 0.5, "side": "at_least"}, "side: at_least belongs to a point value"),
        ({"value": 0.5, "side": "above"}, "side"),
        ({"value": 0.5, "conditions": {"epoch": 10}}, "epoch"),
        ({"value": 0.5, "conditions": {"data_source": "kaggle"}}, "data_source 'kaggle' is not one of keras"),
        ({"value": 0.5, "conditions": {"train_samples": "most"}}, "train_samples"),
    ],
)
def test_a_bad_side_or_condition_is_refused_before_anything_runs(tmp_path, entry, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"extends": "xor-mlp", "reference": {"initial_cost": entry}}))
    with pytest.raises(ConfigError) as error:
        resolve_config(str(path))
    assert "reference.initial_cost" in str(error.value) and message in str(error.value)


def test_every_packaged_reference_states_conditions_its_own_config_meets():
    """A fresh run of a packaged config must be comparable with its own references, and a run that
    changes epochs or data must not be."""
    for name in config_names():
        config = resolve_config(name).to_dict()
        for reference in read_references(config["reference"]):
            assert reference.conditions, f"{name}: {reference.key} states no conditions"
            assert unmet_conditions(reference, config) == [], f"{name}: {reference.key}"
    cifar = resolve_config("cnn-cifar10", flags={"train.epochs": 2}).to_dict()
    accuracy = next(ref for ref in read_references(cifar["reference"]) if ref.key == "test_accuracy")
    assert (accuracy.side, unmet_conditions(accuracy, cifar)) == ("at_least", ["epochs 2, not 10"])
