"""compare / check / runs / report on real runs of a cheap config (perceptron-and: NumPy, ~1 s each)."""

from __future__ import annotations

import json


def test_real_runs_through_every_command(cli, tmp_path):
    for seed in ("1", "2"):
        result = cli("run", "perceptron-and", "--smoke", "--seed", seed)
        assert result.exit_code == 0, result.output
    real = cli("run", "perceptron-and")  # the builtin truth table: the workshop's real data
    assert real.exit_code == 0, real.output
    runs = sorted((tmp_path / "outputs" / "perceptron-and").iterdir())
    assert len(runs) == 3
    by_seed = {json.loads((run / "metrics.json").read_text())["seed"]: run for run in runs}
    first, second, workshop = by_seed[1], by_seed[2], by_seed[42]

    listed = cli("runs", "-f", "json")
    assert listed.exit_code == 0, listed.output
    listed_dirs = {(tmp_path / row["run_dir"]).resolve() for row in json.loads(listed.stdout)}
    assert listed_dirs == {run.resolve() for run in runs}

    compared = cli(
        "compare",
        str(second),
        "--baseline",
        str(first),
        "-f",
        "json",
        "--fail-if",
        "test.loss > baseline + 0.5",
        "--curve",
        "loss",
        "-o",
        "loss.png",
    )
    assert compared.exit_code == 0, compared.output
    data = json.loads(compared.stdout)
    assert {"test.accuracy", "test.loss", "final_cost", "wall_time_s"} <= set(data["metrics"])
    assert data["gates"][0]["failed"] is False
    assert (tmp_path / "loss.png").stat().st_size > 1000

    gate = cli("compare", str(workshop), "--baseline", str(first), "--fail-if", "final_cost > baseline - 0.1")
    assert gate.exit_code == 0, gate.output  # 70 epochs on the real table beat 1 smoke epoch
    gate = cli("compare", str(workshop), "--baseline", str(first), "--fail-if", "epochs_run > baseline")
    assert gate.exit_code == 1 and "epochs_run > baseline: 70 > 1" in gate.output

    checked = cli("check", str(tmp_path / "outputs"), "-f", "json")
    assert checked.exit_code == 3, checked.output  # nothing failed, the smoke runs are not comparable
    results = {check["id"].split("/")[1]: check for check in json.loads(checked.stdout)["checks"]}
    assert results[workshop.name]["result"] == "within"  # final cost ~0.185 vs the workshop's 0.181
    assert results[workshop.name]["metric"] == "final_cost"
    assert results[first.name]["result"] == results[second.name]["result"] == "not comparable"
    strict = cli("check", str(workshop), "--tolerance", "0.001")
    assert strict.exit_code == 1 and "OUTSIDE" in strict.output

    reported = cli("report", "outputs", "-o", "report.html")
    assert reported.exit_code == 0, reported.output
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    for run in runs:
        assert run.name in page
    assert page.count("<figcaption>decision_boundary.png</figcaption>") == 3
