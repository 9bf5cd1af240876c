"""Honest splits: seeded orders, stratified validation, the split check, ordered series."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_cifar_npz
from trees import write_acl_imdb

from dlab.config import DataConfig
from dlab.data import ArrayDataset, load_dataset
from dlab.data.checks.health import check_splits
from dlab.data.checks.splits import grouped_by_class, keras_permutation, split_validation, stratified_indices
from dlab.errors import ConfigError, DataError

# --------------------------------------------------------------------------- orders and subsets


def test_keras_permutation_is_the_one_keras_loaders_use():
    indices = np.arange(50)
    np.random.RandomState(113).shuffle(indices)
    assert keras_permutation(50).tolist() == indices.tolist()


def test_stratified_indices_keep_every_class_in_its_share():
    labels = np.repeat([0, 1, 2], [60, 30, 10])
    chosen = stratified_indices(labels, 20, seed=1)
    assert len(chosen) == 20 and len(set(chosen.tolist())) == 20
    assert np.bincount(labels[chosen]).tolist() == [12, 6, 2]
    assert stratified_indices(labels, 20, seed=1).tolist() == chosen.tolist()
    assert stratified_indices(labels, 20, seed=2).tolist() != chosen.tolist()
    odd = stratified_indices(np.repeat([0, 1], [5, 5]), 3, seed=0)  # remainders decide the third
    assert len(odd) == 3 and sorted(np.bincount(np.repeat([0, 1], [5, 5])[odd]).tolist()) == [1, 2]


def test_grouped_labels_are_recognized_and_random_ones_are_not():
    assert grouped_by_class(np.repeat(np.arange(10), 30))
    assert grouped_by_class(np.concatenate([np.zeros(100), np.ones(100), np.zeros(100)]))
    assert not grouped_by_class(np.random.default_rng(0).integers(0, 10, 300))
    assert not grouped_by_class(np.random.default_rng(0).random(300) < 0.02)  # rare class, mixed
    assert not grouped_by_class(np.array([0, 0, 1, 1]))  # too few to tell


def classes(n: int, labels) -> ArrayDataset:
    y = np.asarray(labels)
    return ArrayDataset("toy", "file", None, np.arange(n), y, np.arange(4), y[:4], class_names=["neg", "pos"])


def test_a_validation_fraction_of_class_sorted_data_holds_every_class_in_proportion():
    data = split_validation(classes(100, np.repeat([0, 1], [70, 30])), 0.2, seed=0)
    assert np.bincount(data.y_val).tolist() == [14, 6]
    assert np.bincount(data.y_train).tolist() == [56, 24]
    assert "stratified by class" in data.validation


# --------------------------------------------------------------------------- sources put in random order


def test_a_class_sorted_acl_imdb_tree_validates_on_both_classes(tmp_path):
    root = write_acl_imdb(tmp_path / "aclImdb", per_class=25)
    config = DataConfig(dataset="imdb", source="dir", path=str(root), num_words=40, validation=0.2)
    data = load_dataset(config, seed=0)
    assert np.bincount(data.y_val).tolist() == [5, 5]
    assert np.bincount(data.y_train).tolist() == [20, 20]
    labels = np.repeat([0, 1], 25)
    order = np.random.RandomState(113)
    expected_train = labels[keras_permutation(50, order)]
    expected_test = labels[keras_permutation(50, order)]
    unsplit = load_dataset(config.model_copy(update={"validation": "test"}), seed=0)
    assert unsplit.y_train.tolist() == expected_train.tolist()  # Keras's seed-113 order
    assert unsplit.y_test.tolist() == expected_test.tolist()
    assert "RandomState(113)" in unsplit.describe()["order"]


def test_the_first_n_of_a_tree_in_keras_order_is_a_mixed_sample(tmp_path):
    root = write_acl_imdb(tmp_path / "aclImdb", per_class=30)
    data = load_dataset(
        DataConfig(dataset="imdb", source="dir", path=str(root), num_words=40, validation=12), seed=0
    )
    assert set(data.y_val.tolist()) == {0, 1}


def test_a_class_sorted_npz_is_shuffled_with_the_seed_and_says_so(tmp_path):
    path = write_cifar_npz(tmp_path / "sorted.npz", n_train=100, n_test=50)
    with np.load(path) as original:
        arrays = dict(original)
    arrays["y_train"] = np.sort(arrays["y_train"], axis=0)
    arrays["y_test"] = np.sort(arrays["y_test"], axis=0)
    np.savez(path, **arrays)
    data = load_dataset(DataConfig(dataset="cifar10", source="file", path=str(path), validation=10), seed=4)
    assert len(set(data.y_val[:, 0].tolist())) > 3  # the first 10 are no longer one class
    assert "blocks of one class" in data.describe()["order"]
    assert sorted(data.y_train[:, 0].tolist() + data.y_val[:, 0].tolist()) == arrays["y_train"][:, 0].tolist()


def test_higgs_rows_are_permuted_with_the_seed_before_the_split(tmp_path):
    rows = np.column_stack([np.repeat([0.0, 1.0], 60), np.random.default_rng(0).normal(size=(120, 28))])
    path = tmp_path / "HIGGS.csv"
    np.savetxt(path, rows, delimiter=",", fmt="%.5f")
    config = DataConfig(
        dataset="higgs", source="file", path=str(path), train_samples=100, test_samples=20, validation=20
    )
    data = load_dataset(config, seed=0)
    for split in (data.y_train, data.y_val, data.y_test):
        assert set(split.tolist()) == {0.0, 1.0}


# --------------------------------------------------------------------------- ordered on purpose


def test_a_time_series_keeps_its_order(tmp_path):
    from dlab.data.datasets.jena import split_rows

    values = np.column_stack([np.arange(400, dtype=np.float64)] * 14)
    columns = ["p (mbar)", "T (degC)", *[f"c{i}" for i in range(12)]]
    data = split_rows(values, columns)
    joined = np.concatenate([data.y_train, data.y_val, data.y_test])
    assert joined.tolist() == list(range(400))  # 50/25/25, consecutive, never shuffled
    assert data.ordered and "time order" in data.describe()["order"]
    report = check_splits(data, DataConfig())
    assert report["target_summary"]["val"]["min"] == 200.0
    assert "lie entirely above" in " ".join(report["split_warnings"])


def test_a_count_on_an_ordered_text_is_refused_through_the_cli(cli, tmp_path):
    book = tmp_path / "book.txt"
    book.write_text("the time traveller was expounding a recondite matter to us " * 400)
    result = cli(
        "run",
        "charrnn-timemachine",
        "--set",
        "data.source=file",
        "--set",
        f"data.path={book}",
        "--set",
        "data.validation=10000",
    )
    assert result.exit_code == 2, result.output
    assert "data.validation=10000 takes the first 10000 training samples" in result.output
    assert "keeps its order on purpose" in result.output and "Use a fraction" in result.output
    assert "Traceback" not in result.output and not list(tmp_path.glob("outputs/*/*"))


# --------------------------------------------------------------------------- the split check


def test_class_counts_of_every_split():
    data = split_validation(classes(40, np.tile([0, 1], 20)), 0.25, seed=0)
    report = check_splits(data, DataConfig())
    assert report["class_counts"] == {
        "train": {"neg": 15, "pos": 15},
        "val": {"neg": 5, "pos": 5},
        "test": {"neg": 2, "pos": 2},
    }
    assert "split_warnings" not in report


def test_a_single_class_validation_split_is_refused_with_the_counts():
    data = split_validation(classes(40, np.repeat([0, 1], 20)), 10)  # the first 10: all "neg"
    with pytest.raises(DataError) as caught:
        check_splits(data, DataConfig())
    message = str(caught.value)
    assert "the validation split holds a single class (neg: 10)" in message
    assert "training: neg 10, pos 20; validation: neg 10, pos 0; test: neg 4, pos 0" in message
    assert "data.allow_degenerate_split=true" in message
    allowed = check_splits(data, DataConfig(allow_degenerate_split=True))
    assert allowed["class_counts"]["val"] == {"neg": 10, "pos": 0}
    assert any("allowed by data.allow_degenerate_split" in w for w in allowed["split_warnings"])


def test_one_class_in_every_split_is_refused_although_the_splits_agree():
    data = classes(40, np.ones(40, int))  # every label "pos": training and test alike
    with pytest.raises(DataError) as caught:
        check_splits(data, DataConfig())
    message = str(caught.value)
    assert "the training split holds a single class (pos: 40) and no split holds another" in message
    assert "Check the labels" in message and "ordered by class" not in message
    allowed = check_splits(data, DataConfig(allow_degenerate_split=True))
    assert any("allowed by data.allow_degenerate_split" in w for w in allowed["split_warnings"])


def test_an_mnist_layout_npz_of_one_class_stops_the_run(cli, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "threes.npz",
        x_train=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        y_train=np.full(60, 3, np.uint8),
        x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        y_test=np.full(20, 3, np.uint8),
    )
    sets = ["--set", "data.source=file", "--set", "data.path=threes.npz"]
    result = cli("run", "mlp-mnist", "--epochs", "1", *sets)
    assert result.exit_code == 2, result.output
    assert "the training split holds a single class (3: 60) and no split holds another" in result.output
    assert "Traceback" not in result.output and not list(tmp_path.glob("outputs/*/*"))


def test_a_rare_class_missing_by_chance_is_a_warning_not_an_error():
    rng = np.random.default_rng(0)
    y_train = np.concatenate([rng.integers(0, 3, 900), [3] * 8])  # topic 3: eight examples
    data = ArrayDataset(
        "topics",
        "file",
        None,
        np.arange(908),
        y_train,
        np.arange(300),
        rng.integers(0, 3, 300),
        class_names=["a", "b", "c", "rare"],
    )
    report = check_splits(data, DataConfig())
    assert report["class_counts"]["test"]["rare"] == 0
    assert "the test split has no rare (rare: about 2 expected" in report["split_warnings"][0]


def test_a_class_missing_where_chance_cannot_explain_it_is_an_error():
    rng = np.random.default_rng(0)
    data = ArrayDataset(
        "toy",
        "file",
        None,
        np.arange(600),
        rng.integers(0, 3, 600),
        np.arange(300),
        rng.integers(0, 2, 300),
        class_names=["a", "b", "c"],
    )
    with pytest.raises(
        DataError,
        match=r"the test split has no c although random splitting "
        r"would put about 74 of its 300 examples there",
    ):
        check_splits(data, DataConfig())


def test_a_tree_validation_fraction_is_stratified_and_counted(tmp_path):
    from trees import write_tree

    from dlab.data.modalities.folders import load_folder_dataset

    tree = write_tree(tmp_path / "pets", per_class=10)
    config = DataConfig(dataset="dogs_vs_cats", source="dir", path=str(tree), validation=0.2)
    data = load_folder_dataset(config, seed=0, image_size=16)
    assert np.bincount(data.split_labels["val"]).tolist() == [2, 2]
    labels = [int(y) for _, y in data.splits["val"].as_numpy_iterator()]
    assert sorted(labels) == [0, 0, 1, 1]  # the stream holds the images the labels say
    report = check_splits(data, config)
    assert report["class_counts"]["train"] == {"cat": 8, "dog": 8}


def test_regression_targets_get_a_summary_per_split():
    x = np.arange(10.0)
    data = ArrayDataset("r", "file", None, x, x * 2, x[:4], x[:4] * 2)
    report = check_splits(split_validation(data, 0.2, seed=1), DataConfig())
    assert set(report["target_summary"]) == {"train", "val", "test"}
    assert report["target_summary"]["test"] == {
        "count": 4,
        "mean": 3.0,
        "std": 2.236068,
        "min": 0.0,
        "max": 6.0,
    }


def test_a_degenerate_split_stops_the_run_with_exit_2(cli, tmp_path):
    path = write_cifar_npz(tmp_path / "cifar.npz", n_train=40, n_test=20)
    with np.load(path) as original:
        arrays = dict(original)
    arrays["y_test"] = np.zeros_like(arrays["y_test"])
    np.savez(path, **arrays)
    result = cli(
        "run", "cnn-cifar10", "--epochs", "1", "--set", "data.source=file", "--set", f"data.path={path}"
    )
    assert result.exit_code == 2, result.output
    assert "the test split holds a single class (airplane: 20)" in result.output
    assert "test: airplane 20, automobile 0" in result.output and "Traceback" not in result.output
    assert not list(tmp_path.glob("outputs/*/*"))  # nothing created, nothing trained


def test_metrics_json_records_the_class_counts(cli, tmp_path):
    root = write_acl_imdb(tmp_path / "aclImdb", per_class=20)
    result = cli(
        "run",
        "lstm-imdb",
        "--epochs",
        "1",
        "--no-save",
        "--set",
        "data.source=dir",
        "--set",
        f"data.path={root}",
        "--set",
        "data.maxlen=12",
        "--set",
        "data.num_words=40",
    )
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "lstm-imdb").iterdir()
    data = json.loads((run / "metrics.json").read_text())["data"]
    assert data["class_counts"] == {
        "train": {"negative": 16, "positive": 16},
        "val": {"negative": 4, "positive": 4},
        "test": {"negative": 20, "positive": 20},
    }
    assert "stratified by class" in data["validation"] and "113" in data["order"]


def test_a_regression_run_records_its_target_summary(cli, tmp_path):
    result = cli("run", "linreg-scratch", "--epochs", "2")
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "linreg-scratch").iterdir()
    summary = json.loads((run / "metrics.json").read_text())["data"]["target_summary"]
    assert summary["train"]["count"] + summary["test"]["count"] == 200


def test_validation_count_refused_for_folder_trees_still_says_why():
    from dlab.data.modalities.folders import load_folder_dataset

    with pytest.raises(ConfigError, match="not a count"):
        load_folder_dataset(DataConfig(dataset="dogs_vs_cats", source="synthetic", validation=5), seed=0)


def test_a_tree_with_a_class_missing_from_test_stops_before_training(cli, tmp_path):
    import shutil

    from conftest import write_image_tree

    root = write_image_tree(tmp_path / "tree", classes=("cat", "dog", "frog"))
    shutil.rmtree(root / "test" / "frog")
    result = cli("run", "cnn-cifar10", "--set", "data.source=dir", "--set", f"data.path={root}")
    assert result.exit_code == 2, result.output
    assert "different class folders (cat, dog, frog vs cat, dog)" in result.output
    assert "Traceback" not in result.output and not list(tmp_path.glob("outputs/*/*"))
