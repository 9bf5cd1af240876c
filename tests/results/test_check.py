"""dlab check: a run's results against its config's reference block, within or outside a tolerance."""

from __future__ import annotations

import json

import pytest
from fake_runs import make_run

from dlab.results.check import parse_tolerance, resolve_reference
from dlab.results.index import load_run


def test_within_the_default_relative_tolerance_exits_0(cli, tmp_path):
    run = make_run(tmp_path / "outputs", accuracy=0.700)  # reference 0.714: -2.0%
    result = cli("check", str(run))
    assert result.exit_code == 0, result.output
    row = result.output.splitlines()[1].split()
    assert row[:6] == ["cnn-cifar10", "test_accuracy", "0.714", "0.7", "5%", "within"]
    assert "0.014 (-2.0%) below 0.714, within +-5%" in result.output
    data = json.loads(cli("check", str(run), "-f", "json").output)["checks"][0]
    assert data["id"] == "cnn-cifar10/20261122-100000-aaaaaa" and data["metric"] == "test.accuracy"
    assert data["difference"] == pytest.approx(-0.014)
    assert "check: 1 within tolerance, 0 failing, 0 not comparable, 0 not checked" in result.output


def test_outside_the_tolerance_exits_1(cli, tmp_path):
    run = make_run(tmp_path / "outputs", accuracy=0.60)  # -16%
    result = cli("check", str(run))
    assert result.exit_code == 1
    assert "OUTSIDE" in result.output and "1 failing" in result.output


def test_far_better_than_the_reference_is_outside_too(cli, tmp_path):
    run = make_run(tmp_path / "outputs", accuracy=0.90)
    assert cli("check", str(run)).exit_code == 1


def test_tolerance_can_be_relative_or_absolute(cli, tmp_path):
    run = make_run(tmp_path / "outputs", accuracy=0.700)  # 0.014 below 0.714
    assert cli("check", str(run), "--tolerance", "1%").exit_code == 1  # allows 0.00714
    assert cli("check", str(run), "--tolerance", "2%").exit_code == 0  # allows 0.01428
    assert cli("check", str(run), "--tolerance", "0.01").exit_code == 1  # absolute
    assert cli("check", str(run), "--tolerance", "0.02").exit_code == 0
    assert parse_tolerance("5%").allowed(2.0) == pytest.approx(0.1)
    assert parse_tolerance("0.5").allowed(2.0) == 0.5


@pytest.mark.parametrize("bad", ["abc", "-1%", "-0.1", "inf", "%"])
def test_a_bad_tolerance_is_refused(cli, tmp_path, bad):
    run = make_run(tmp_path / "outputs")
    result = cli("check", str(run), "--tolerance", bad)
    assert result.exit_code == 2 and "is not a tolerance" in result.output


def test_smoke_runs_are_not_comparable_unless_asked(cli, tmp_path):
    run = make_run(tmp_path / "outputs", accuracy=0.1, smoke=True)
    result = cli("check", str(run))
    assert result.exit_code == 3, result.output  # its own exit code: not judged, not failed
    assert "not comparable (smoke run on synthetic data)" in result.output
    assert "0 within tolerance, 0 failing, 1 not comparable, 0 not checked" in result.output
    asked = cli("check", str(run), "--include-smoke")
    assert asked.exit_code == 1 and "OUTSIDE" in asked.output


def test_a_failed_run_fails_the_check(cli, tmp_path):
    run = make_run(tmp_path / "outputs", status="failed")
    result = cli("check", str(run))
    assert result.exit_code == 1 and "not finished (status failed)" in result.output


def test_a_config_without_references_is_reported_not_failed(cli, tmp_path):
    run = make_run(tmp_path / "outputs", reference={})
    result = cli("check", str(run))
    assert result.exit_code == 0 and "no reference" in result.output


def test_a_reference_the_experiment_does_not_record_is_no_metric(cli, tmp_path):
    run = make_run(tmp_path / "outputs", reference={"epochs_to_floor": {"value": 50, "source": "x"}})
    result = cli("check", str(run), "--format", "json")
    assert result.exit_code == 0
    check = json.loads(result.stdout)["checks"][0]
    assert check["result"] == "no metric" and check["metric"] is None and check["expected"] == 50


def test_reference_names_map_to_metrics(tmp_path):
    run_dir = make_run(
        tmp_path,
        history={"loss": [0.8, 0.5, 0.4], "val_accuracy": [0.55, 0.6, 0.65]},
        extra={
            "final_cost": 0.18,
            "test_loss": 0.17,
            "kfold": {"mean": {"mae": 2.4}},
            "test": {"mae": 2.5, "loss": 9.0},
        },
    )
    run = load_run(run_dir)
    assert resolve_reference("final_cost", run) == ("final_cost", 0.18)
    assert resolve_reference("test_loss", run) == ("test_loss", 0.17)  # the top-level number wins
    assert resolve_reference("test_mae", run) == ("test.mae", 2.5)
    assert resolve_reference("val_accuracy", run) == ("final.val.accuracy", 0.65)
    assert resolve_reference("kfold_mean_val_mae", run) == ("kfold.mean.mae", 2.4)
    assert resolve_reference("epoch1_val_accuracy", run) == ("history val_accuracy at epoch 1", 0.55)
    assert resolve_reference("cost_at_epoch_2", run) == ("history loss at epoch 2", 0.5)
    assert resolve_reference("cost_at_epoch_9", run) == (None, None)
    assert resolve_reference("epochs_to_floor", run) == (None, None)


def test_markdown_csv_and_json_parse(cli, tmp_path):
    import csv
    import io

    runs = [
        str(make_run(tmp_path / "outputs", run_id=f"20261122-10000{i}-aaaaa{i}", accuracy=a))
        for i, a in enumerate((0.70, 0.60))
    ]
    as_json = json.loads(cli("check", *runs, "-f", "json").stdout)
    assert [c["result"] for c in as_json["checks"]] == ["within", "OUTSIDE"] and as_json["failed"] == 1
    rows = list(csv.DictReader(io.StringIO(cli("check", *runs, "-f", "csv").stdout)))
    assert [row["result"] for row in rows] == ["within", "OUTSIDE"]
    assert float(rows[1]["actual"]) == 0.6 and rows[1]["tolerance"] == "5%"
    markdown = cli("check", *runs, "-f", "markdown").stdout.splitlines()
    assert markdown[0].startswith("| run | reference | expected |") and markdown[1].startswith("|---")
