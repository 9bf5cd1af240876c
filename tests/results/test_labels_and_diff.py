"""Run labels say what differs (config name, differing keys, short id), --params columns, and dlab diff."""

from __future__ import annotations

import json

import yaml
from fake_runs import make_run

from dlab.results.index import load_run
from dlab.results.labels import differing_keys, run_labels


def grid_run(root, run_id, *, hidden, seed, accuracy=0.8, config="playground-mlp"):
    """A fake run whose saved config has model.hidden and seed set (as a grid sweep writes them)."""
    run_dir = make_run(root, config=config, run_id=run_id, accuracy=accuracy)
    data = yaml.safe_load((run_dir / "config.yaml").read_text())
    data["seed"] = seed
    data["model"] = {"hidden": hidden, "activation": "tanh"}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return run_dir


def sweep(root):
    return [
        grid_run(root, "20261122-100000-aaaaa1", hidden=[2], seed=1, accuracy=0.80),
        grid_run(root, "20261122-100001-aaaaa2", hidden=[2], seed=2, accuracy=0.84),
        grid_run(root, "20261122-100002-aaaaa3", hidden=[4, 2], seed=1, accuracy=0.97),
        grid_run(root, "20261122-100003-aaaaa4", hidden=[4, 2], seed=2, accuracy=0.99),
    ]


def test_grid_runs_are_labelled_by_the_keys_that_differ(tmp_path):
    runs = [load_run(path) for path in sweep(tmp_path / "outputs")]
    assert differing_keys(runs) == ["model.hidden", "seed"]  # seed last
    assert run_labels(runs) == [  # the shortest unambiguous name of each key
        "hidden=[2] seed=1",
        "hidden=[2] seed=2",
        "hidden=[4,2] seed=1",
        "hidden=[4,2] seed=2",
    ]


def test_different_configs_are_labelled_by_name(tmp_path):
    runs = [
        load_run(make_run(tmp_path / "o", config="mlp-imdb", run_id="20261122-100000-aaaaaa")),
        load_run(make_run(tmp_path / "o", config="mlp-imdb-small", run_id="20261122-100000-bbbbbb")),
    ]
    assert run_labels(runs) == ["mlp-imdb", "mlp-imdb-small"]


def test_seeds_only_and_nothing_differing(tmp_path):
    root = tmp_path / "outputs"
    seeds = [
        load_run(grid_run(root, "20261122-100000-aaaaa1", hidden=[3], seed=1)),
        load_run(grid_run(root, "20261122-100001-aaaaa2", hidden=[3], seed=43)),
    ]
    assert run_labels(seeds) == ["seed=1", "seed=43"]
    same = [
        load_run(make_run(tmp_path / "p", run_id="20261122-100000-259c2a")),
        load_run(make_run(tmp_path / "p", run_id="20261122-100001-8f4e48")),
    ]
    assert run_labels(same) == ["259c2a", "8f4e48"]  # the short id only when nothing else differs
    assert run_labels(same[:1]) == ["cnn-cifar10"]


def test_compare_shows_labels_params_and_seed_statistics(cli, tmp_path):
    sweep(tmp_path / "outputs")
    result = cli("compare", "outputs", "-m", "test.accuracy", "--params", "train.batch_size")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["metric", "hidden=[2]", "seed=1", "hidden=[2]"]
    assert lines[2].split() == ["model.hidden", "[2]", "[2]", "[4,2]", "[4,2]"]  # the differing keys
    assert lines[4].split() == ["train.batch_size", "32", "32", "32", "32"]  # and the chosen one
    assert "over seeds" in result.output
    # two seeds of 0.97 and 0.99: t(1) = 12.7 would reach 1.107; the interval stops at 1
    assert "test.accuracy: 0.98 +- 0.014 (95% CI 0.8529 to 1*, n=2)" in result.output
    data = json.loads(cli("compare", "outputs", "-m", "test.accuracy", "-f", "json").output)
    assert data["params"] == ["model.hidden", "seed"]
    assert data["runs"][2]["run"] == "hidden=[4,2] seed=1"
    assert data["runs"][2]["params"] == {"model.hidden": "[4,2]", "seed": "1"}
    stats = data["seeds"][1]["metrics"]["test.accuracy"]
    assert stats["ci95_high"] == 1.0 and "clipped" in stats
    csv_text = cli("compare", "outputs", "-m", "test.accuracy", "-f", "csv").output
    assert csv_text.splitlines()[0] == "run,run_dir,status,model.hidden,seed,test.accuracy"


def test_params_naming_a_key_no_run_has_says_which_exist(cli, tmp_path):
    sweep(tmp_path / "outputs")
    result = cli("compare", "outputs", "--params", "model.hiden")
    assert result.exit_code == 2
    assert "--params 'model.hiden': no run's config has that key" in result.output
    assert "Did you mean 'model.hidden'" in result.output and "train.batch_size" in result.output
    assert "Traceback" not in result.output
    report = cli("report", "outputs", "--params", "nope", "-o", "r.html")
    assert report.exit_code == 2 and not (tmp_path / "r.html").exists()


def test_runs_lists_labels_and_folders(cli, tmp_path):
    sweep(tmp_path / "outputs")
    result = cli("runs", "--out", "outputs")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "20261122-100003-aaaaa4" in line)
    assert line.split()[:4] == ["playground-mlp", "hidden=[4,2]", "seed=2", "completed"]


def test_diff_of_two_configs_lists_only_differences_with_their_origin(cli):
    result = cli("diff", "xor-mlp", "xor-mlp-tanh")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "diff: xor-mlp vs xor-mlp-tanh"
    assert lines[2].split() == [
        "model.hidden_activation",
        "sigmoid",
        "xor-mlp.yaml",
        "tanh",
        "xor-mlp-tanh.yaml",
    ]
    assert len(lines) == 3  # nothing else differs (the reference block is not a setting)
    markdown = cli("diff", "perceptron-and", "perceptron-and-const10", "--format", "markdown").output
    assert markdown.startswith("**dlab diff**: perceptron-and vs perceptron-and-const10")
    assert "| model.init | zeros | perceptron-and.yaml | constant | perceptron-and-const10.yaml |" in markdown


def test_diff_of_two_runs_adds_their_metrics(cli, tmp_path):
    a, b = sweep(tmp_path / "outputs")[1:3]
    result = cli("diff", str(a), str(b))
    assert result.exit_code == 0, result.output
    assert "model.hidden  [2]" in result.output and "run config.yaml" in result.output
    assert "seed          2" in result.output
    metric = next(line for line in result.output.splitlines() if line.startswith("test.accuracy"))
    assert metric.split() == ["test.accuracy", "0.84", "0.97", "+0.13"]
    data = json.loads(cli("diff", str(a), str(b), "-f", "json").output)
    assert {row["key"] for row in data["config"]} == {"model.hidden", "seed"}
    same = cli("diff", str(a), str(a))
    assert same.exit_code == 0 and "The resolved configs are the same" in same.output


def test_diff_bad_input_exits_2(cli, tmp_path):
    (tmp_path / "outputs" / "x").mkdir(parents=True)
    missing = cli("diff", "outputs/cnn-cifar10/20261122-100000-nothere", "xor-mlp")
    assert missing.exit_code == 2 and "does not exist" in missing.output and "Traceback" not in missing.output
    not_run = cli("diff", "outputs/x", "xor-mlp")
    assert not_run.exit_code == 2 and "it has no metrics.json" in not_run.output
    unknown = cli("diff", "xor-mpl", "xor-mlp")
    assert unknown.exit_code == 2 and "Did you mean 'xor-mlp'" in unknown.output
