"""Where a run's time goes: metrics.json's `stages` and `dlab run --profile`."""

from __future__ import annotations

import json
from pathlib import Path

from dlab.run.stages import ORDER, Stages, render_stages, since_process_start


def test_stages_add_up_keep_the_run_order_and_render_with_the_rest_as_other():
    stages = Stages()
    stages.add("fit", 1.0)
    stages.add("resolve", 0.25)
    stages.add("fit", 0.5)  # k-fold: every fold's fit adds up
    with stages.time("figures"):
        pass
    assert list(stages.to_dict()) == ["resolve", "fit", "figures"] and stages.to_dict()["fit"] == 1.5
    table = render_stages(stages.to_dict(), 4.0)
    assert "profile: 4.00 s in all" in table and "fit" in table and "37.5%" in table
    assert "other" in table.splitlines()[-1] and "2.250 s" in table.splitlines()[-1]
    assert since_process_start() is None or since_process_start() > 0


def test_a_run_records_its_stages_and_profile_prints_them(cli, tmp_path):
    result = cli("run", "perceptron-and", "--out", "o", "-q", "--profile")
    assert result.exit_code == 0, result.output
    assert "profile:" in result.output and "  figures" in result.output
    (metrics_path,) = (tmp_path / "o").glob("*/*/metrics.json")
    stages = json.loads(Path(metrics_path).read_text())["stages"]
    assert [name for name in ORDER if name in stages] == list(stages)  # in the order a run goes
    assert {"resolve", "check", "start", "load_data", "build", "fit", "figures"} <= set(stages)
    assert all(seconds >= 0 for seconds in stages.values())
