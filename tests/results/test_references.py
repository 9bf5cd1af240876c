"""Reference kinds: a point with a tolerance, a bound (max/min), a band, seed-dependent numbers; and
every packaged config's reference is of a kind a fresh run can meet."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from fake_runs import make_run

from dlab.config import ReferenceValue, config_names
from dlab.errors import ConfigError
from dlab.framework.factory import resolve_config


def check_row(cli, run):
    result = cli("check", str(run), "-f", "json")
    return result.exit_code, json.loads(result.output)["checks"][0]


@pytest.mark.parametrize(
    ("reference", "accuracy", "exit_code", "result", "why"),
    [
        ({"value": 0.714}, 0.70, 0, "within", "0.014 (-2.0%) below 0.714, within +-5%"),
        ({"value": 0.714, "tolerance": "1%"}, 0.70, 1, "OUTSIDE", "outside +-1%"),
        ({"value": 0.714, "tolerance": 0.02}, 0.70, 0, "within", "within +-0.02"),
        ({"max": 0.75}, 0.70, 0, "within", "0.7 <= 0.75: at most the bound"),
        ({"max": 0.65}, 0.70, 1, "OUTSIDE", "0.7 > 0.65: above the bound by 0.05"),
        ({"min": 0.65}, 0.70, 0, "within", "0.7 >= 0.65: at least the bound"),
        ({"min": 0.90}, 0.70, 1, "OUTSIDE", "0.7 < 0.9: below the bound by 0.2"),
        ({"low": 0.68, "high": 0.72}, 0.70, 0, "within", "0.7 is inside 0.68 to 0.72"),
        ({"low": 0.72, "high": 0.75}, 0.70, 1, "OUTSIDE", "0.7 is below the band by 0.02"),
        ({"value": 0.2, "seed_dependent": True}, 0.70, 0, "seed-dependent", "shown but not judged"),
    ],
)
def test_every_reference_kind_is_judged_and_explained(
    cli, tmp_path, reference, accuracy, exit_code, result, why
):
    run = make_run(
        tmp_path / "outputs", accuracy=accuracy, reference={"test_accuracy": {**reference, "source": "s"}}
    )
    code, row = check_row(cli, run)
    assert code == exit_code and row["result"] == result and why in row["why"], row


def test_check_table_says_expected_measured_and_why(cli, tmp_path):
    run = make_run(
        tmp_path / "outputs", accuracy=0.7, reference={"test_accuracy": {"min": 0.9, "source": "goal"}}
    )
    result = cli("check", str(run))
    assert result.exit_code == 1
    header, row = result.output.splitlines()[:2]
    assert header.split() == ["run", "reference", "expected", "actual", "tolerance", "result", "why"]
    assert ">= 0.9" in row and "0.7 < 0.9: below the bound by 0.2" in row
    assert "  test_accuracy: goal" in result.output  # each source once, under the table


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"value": 0.5, "max": 0.6}, "a reference needs exactly one kind, got value, max"),
        ({"target": 0.5}, "unknown reference key 'target'; a reference is one of: a point"),
        ({"source": "x"}, "a reference needs exactly one kind, got none"),
        ({"low": 0.5}, "a band needs both low and high"),
        ({"low": 0.7, "high": 0.5}, "low <= high"),
        ({"max": 0.5, "tolerance": "5%"}, "tolerance belongs to a point value"),
        ({"value": 0.5, "tolerance": "five"}, "is not a tolerance"),
    ],
)
def test_a_bad_reference_is_refused_with_what_is_allowed(tmp_path, entry, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"extends": "xor-mlp", "reference": {"initial_cost": entry}}))
    with pytest.raises(ConfigError) as error:
        resolve_config(str(path))
    assert "reference.initial_cost" in str(error.value) and message in str(error.value)


def test_a_bad_reference_exits_2_without_a_traceback(cli, tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "extends: xor-mlp\nreference:\n  initial_cost: {value: 0.7, max: 0.8}\n"
    )
    result = cli("run", "bad.yaml")
    assert result.exit_code == 2 and "exactly one kind" in result.output and "Traceback" not in result.output


def test_a_variant_replaces_its_parents_reference_entry_whole():
    cfg = resolve_config("mnist-lr-too-high")  # its parent has a point, it has a band
    entry = cfg.reference["val_accuracy"]
    assert (entry.kind, entry.value, entry.low, entry.high) == ("band", None, 0.21, 0.25)


THRESHOLD_WORDS = re.compile(r"\b(below|above|at least|at most|goal|beats?|under|over)\b|[<>]", re.I)
RANGE = re.compile(r"\d\.\d+\s*-\s*\d\.\d+")


@pytest.mark.parametrize("name", config_names())
def test_no_packaged_reference_is_a_threshold_or_range_judged_as_a_point(name):
    """A source that says "went below", "goal > 0.90" or "0.78-0.80" is a bound or a band, not a point."""
    for key, entry in resolve_config(name).reference.items():
        assert isinstance(entry, ReferenceValue)
        if entry.kind != "point" or entry.seed_dependent:
            continue
        source = entry.source.split("(")[0]  # asides in parentheses compare with other runs
        assert not RANGE.search(source), f"{name}: {key} is a range in its source, judged as a point"
        words = THRESHOLD_WORDS.search(source)
        assert not words, f"{name}: {key} says '{words.group(0)}' in its source, judged as a point"


def test_initial_costs_of_random_inits_are_seed_dependent():
    for name in ("xor-mlp", "xor-mlp-tanh"):
        assert resolve_config(name).reference["initial_cost"].seed_dependent
    assert resolve_config("playground-mlp").reference["test_loss"].kind == "max"


@pytest.mark.heavy
def test_check_passes_on_fresh_runs_of_the_quickstart_configs(cli, tmp_path):
    """The README's quickstart (and the other NumPy configs): a fresh, non-smoke run passes dlab check."""
    names = ["perceptron-and", "xor-mlp", "xor-mlp-tanh", "softmax-decoder", "softmax-decoder-sigmoid"]
    names += ["perceptron-and-const10", "logreg-scratch", "playground-mlp"]
    for name in names:
        result = cli("run", name, "--out", "out", "--no-save")
        assert result.exit_code == 0, result.output
    check = cli("check", "out")
    assert check.exit_code == 0, check.output
    assert "0 failing" in check.output and "OUTSIDE" not in check.output
