"""dlab diff says where each of a run's values came from: the extends chain's file, --set, a named
flag or the default, read from metrics.json's provenance (issue 29, point 4)."""

from __future__ import annotations

import json

import pytest
import yaml
from fake_runs import make_run

from dlab.results.index import load_run
from dlab.results.origins import flag_key, leaf_origins, run_origins


def chain(folder):
    """base.yaml and child.yaml (extends base), as a user's project would have them."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "base.yaml"
    base.write_text(
        yaml.safe_dump({"experiment": "cnn_cifar10", "train": {"epochs": 10, "optimizer": {"name": "adam"}}})
    )
    child = folder / "child.yaml"
    child.write_text(yaml.safe_dump({"extends": "base.yaml", "model": {"filters": [32, 64, 64]}}))
    return [str(base), str(child)]


def provenanced(root, run_id, *, provenance, lr=0.001, epochs=3, filters=(32, 64, 64)):
    run_dir = make_run(root, run_id=run_id)
    data = yaml.safe_load((run_dir / "config.yaml").read_text())
    data["train"]["optimizer"]["learning_rate"] = lr
    data["train"]["epochs"] = epochs
    data["model"]["filters"] = list(filters)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(data))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if provenance is not None:
        metrics["provenance"] = provenance
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir


def rows(cli, a, b):
    result = cli("diff", str(a), str(b), "-f", "json")
    assert result.exit_code == 0, result.output
    return {row["key"]: (row["left_from"], row["right_from"]) for row in json.loads(result.output)["config"]}


def test_each_value_names_its_origin_from_overrides_flags_and_the_chain(cli, tmp_path):
    files = chain(tmp_path / "project")
    plain = {"command": ["dlab", "run", files[1]], "overrides": [], "flags": {}, "config_files": files}
    changed = {
        "command": ["dlab", "run", files[1], "--epochs", "2", "--set", "train.optimizer.learning_rate=0.01"],
        "overrides": ["train.optimizer.learning_rate=0.01", "model.filters=[8]"],
        "flags": {"epochs": 2, "seed": None},
        "config_files": files,
        "git": None,
        "data_files": {},
    }
    a = provenanced(tmp_path / "o", "20261122-100000-aaaaaa", provenance=plain, lr=0.001, epochs=10)
    b = provenanced(
        tmp_path / "o", "20261122-100001-bbbbbb", provenance=changed, lr=0.01, epochs=2, filters=[8]
    )
    assert rows(cli, a, b) == {
        "train.epochs": ("base.yaml", "--epochs"),
        "train.optimizer.learning_rate": ("default", "--set"),
        "model.filters": ("child.yaml", "--set"),
    }
    table = cli("diff", str(a), str(b)).output
    assert table.startswith(
        "diff: A: cnn-cifar10/20261122-100000-aaaaaa vs B: cnn-cifar10/20261122-100001-bbbbbb"
    )
    assert table.splitlines()[1].split() == ["key", "A", "from", "B", "from"]
    assert "run config.yaml" not in table


def test_set_by_recorded_by_the_run_is_taken_as_it_is(cli, tmp_path):
    files = chain(tmp_path / "project")
    recorded = {
        "overrides": ["train.optimizer.learning_rate=0.01"],
        "flags": {"epochs": 2},
        "config_files": files,
        "set_by": {
            "train.epochs": "--epochs",
            "train.optimizer.learning_rate": "--set",
            "data.source": "--smoke",
        },
    }
    a = provenanced(tmp_path / "o", "20261122-100000-aaaaaa", provenance={"config_files": files}, epochs=10)
    b = provenanced(tmp_path / "o", "20261122-100001-bbbbbb", provenance=recorded, lr=0.01, epochs=2)
    assert rows(cli, a, b) == {
        "train.epochs": ("base.yaml", "--epochs"),
        "train.optimizer.learning_rate": ("default", "--set"),
    }


def test_runs_without_provenance_or_with_a_broken_one_fall_back(cli, tmp_path):
    old = provenanced(tmp_path / "o", "20261122-100000-aaaaaa", provenance=None)
    broken = provenanced(
        tmp_path / "o",
        "20261122-100001-bbbbbb",
        lr=0.01,
        provenance={"config_files": "base.yaml", "overrides": [3, None], "flags": [1], "set_by": 7},
    )
    assert rows(cli, old, broken)["train.optimizer.learning_rate"] == ("run config.yaml", "default")
    assert run_origins({"provenance": "yes"}, {}) is None and run_origins({}, {}) is None
    gone = provenanced(
        tmp_path / "o",
        "20261122-100002-cccccc",
        lr=0.02,
        provenance={"config_files": [str(tmp_path / "moved" / "base.yaml")], "overrides": []},
    )
    assert rows(cli, old, gone)["train.optimizer.learning_rate"][1] == "default or base.yaml"


@pytest.mark.parametrize(
    ("flag", "key"),
    [("epochs", "train.epochs"), ("jit", "train.jit_compile"), ("seed", "seed"), ("nope", None)],
)
def test_a_named_flag_finds_the_key_it_sets(flag, key):
    keys = ["seed", "train.epochs", "train.final_epochs", "train.jit_compile", "train.batch_size"]
    assert flag_key(flag, keys) == key


def test_a_section_a_file_touched_does_not_claim_its_defaults():
    origins = {"train": "a.yaml", "train.epochs": "a.yaml", "train.optimizer": "--set"}
    assert leaf_origins(origins) == {"train.epochs": "a.yaml", "train.optimizer": "--set"}


def test_load_run_reads_real_provenance_shape(tmp_path):
    files = chain(tmp_path / "project")
    run = load_run(
        provenanced(
            tmp_path / "o",
            "20261122-100000-aaaaaa",
            provenance={"config_files": files, "overrides": ["seed=3"], "flags": {"batch_size": 64}},
        )
    )
    found = run_origins(run.metrics, run.config)
    assert found is not None and found.unread == []
    assert found.by_key["seed"] == "--set" and found.by_key["train.batch_size"] == "--batch-size"
    assert found.by_key["model.filters"].endswith("child.yaml")
