"""dlab init and a project of one's own: through the CLI, in a folder outside the repository."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def project(cli, tmp_path, monkeypatch):
    """`dlab init proj`, then work inside it."""
    monkeypatch.delenv("DLAB_PROJECT", raising=False)
    result = cli("init", "proj")
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "proj")
    return tmp_path / "proj"


def test_init_writes_a_project_that_lists_its_configs_with_their_origin(cli, project):
    names = sorted(p.name for p in project.rglob("*") if p.is_file())
    assert names == sorted(
        [
            ".gitignore",
            "README.md",
            "dlab.toml",
            "models.py",
            "houses-band.yaml",
            "houses-price.yaml",
            "dlab-config.schema.json",
            "houses.csv",
        ]
    )
    assert "outputs/" in (project / ".gitignore").read_text()
    rows = {row["name"]: row for row in json.loads(cli("list", "--format", "json").output)}
    assert rows["houses-band"]["origin"] == f"project {project.resolve()}"
    assert rows["houses-band"]["family"] == "your own" and rows["cnn-mnist"]["origin"] == "dlab"
    shown = cli("show", "houses-price")
    assert shown.exit_code == 0
    assert "models.py:build_mlp" in shown.output and "target: price" in shown.output


def test_init_never_overwrites(cli, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "models.py").write_text("my own work\n")
    result = cli("init", "mine")
    assert result.exit_code == 2
    assert "already holds" in result.output and "nothing was written" in result.output
    assert (tmp_path / "mine" / "models.py").read_text() == "my own work\n"
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["models.py"]
    (tmp_path / "afile").write_text("x")
    assert cli("init", "afile").exit_code == 2


def test_the_example_trains_on_its_csv_and_predicts_raw_rows(cli, project):
    result = cli("run", "houses-band", "--epochs", "3", "--quiet")
    assert result.exit_code == 0, result.output
    run = next((project / "outputs" / "houses-band").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["experiment"] == "builder"
    assert metrics["data"]["num_classes"] == 3 and metrics["data"]["source"] == "file"
    assert (
        metrics["data"]["train_samples"] + metrics["data"]["val_samples"] + metrics["data"]["test_samples"]
        == 500
    )
    assert (run / "plots" / "confusion_matrix.png").is_file()
    rows = project / "two.csv"
    rows.write_text("rooms,area,age,distance,district\n3,80,10,2.5,north\n2,50,60,9.0,centre\n")
    predicted = cli("predict", str(run), str(rows))
    assert predicted.exit_code == 0, predicted.output
    assert "two.csv:1" in predicted.output and "two.csv:2" in predicted.output


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["model.unitz=8"], "model.unitz is not a parameter of models.build_mlp. Did you mean 'units'"),
        (["model.build=models.py:build_mpl"], "has no 'build_mpl'"),
        (["data.target=bandd"], "has no column 'bandd' (data.target)"),
        (["data.features=[rooms,price,band]"], "lists the target column 'band'"),
    ],
)
def test_bad_input_stops_before_a_run_directory_exists(cli, project, sets, message):
    args = [item for assignment in sets for item in ("--set", assignment)]
    result = cli("run", "houses-band", "--smoke", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (project / "outputs" / "houses-band").exists()  # no run directory


def test_a_builder_returning_something_else_names_the_function(cli, project):
    (project / "models.py").write_text(
        (project / "models.py").read_text()
        + "\n\ndef not_a_model(input_shape, num_classes, task, units=1):\n    return 42\n"
    )
    result = cli("run", "houses-band", "--smoke", "--set", "model.build=models.py:not_a_model")
    assert result.exit_code == 2
    assert "models.not_a_model returned int, not a keras.Model" in result.output
