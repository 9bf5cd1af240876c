"""The dataset contract (sizes, batches, describe, read) and the dataset registry."""

from __future__ import annotations

import numpy as np
import pytest

from dlab.config import DataConfig
from dlab.data import (
    ArrayDataset,
    BatchedDataset,
    Dataset,
    DuplicateDatasetError,
    StreamDataset,
    dataset,
    dataset_names,
    load_dataset,
)
from dlab.data.registry import loader
from dlab.errors import ConfigError


class Reader:
    """A SplitReader that says which method the dataset picked."""

    def arrays(self, data):
        return "arrays"

    def batches(self, data):
        return "batches"


def arrays(n: int = 10) -> ArrayDataset:
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n) % 2
    return ArrayDataset("toy", "synthetic", None, x, y, x[:4], y[:4], class_names=["a", "b"])


def test_every_registered_dataset_loads_through_load_dataset_and_the_registry_is_complete():
    names = dataset_names()
    for expected in ("mnist", "logic_and", "logic_xor", "binary_decoder", "circle", "spiral", "jena"):
        assert expected in names
    assert {"dogs_vs_cats", "image_folders", "oxford_pets", "timemachine"} <= set(names)


def test_a_name_registered_twice_is_an_error_and_the_same_loader_again_is_not():
    def load(config, seed):
        raise AssertionError("never called")

    mnist = loader("mnist")
    assert dataset("mnist")(mnist) is mnist  # the same function again: a module imported twice
    with pytest.raises(DuplicateDatasetError, match="'mnist' is registered twice"):
        dataset("mnist")(load)
    assert loader("mnist") is mnist


def test_an_unknown_dataset_names_the_close_ones_and_every_registered_one():
    with pytest.raises(ConfigError, match="Did you mean 'dogs_vs_cats'") as caught:
        load_dataset(DataConfig(dataset="dogs_vs_cat", source="synthetic"), seed=0)
    assert "Available: " in str(caught.value) and "oxford_pets" in str(caught.value)


def test_class_folder_trees_load_through_load_dataset_at_the_models_image_size():
    config = DataConfig(dataset="dogs_vs_cats", source="synthetic", train_samples=8, test_samples=4)
    data = load_dataset(config, seed=0, image_size=24)
    assert isinstance(data, StreamDataset) and data.image_shape == (24, 24, 3)
    assert data.sizes == {"train": 8, "val": 4, "test": 4}
    assert load_dataset(config, seed=0).image_shape == (180, 180, 3)  # the dataset's own size


def test_every_type_implements_the_protocol_and_picks_its_reader():
    data = load_dataset(DataConfig(dataset="mnist", source="synthetic", train_samples=20, test_samples=8), 0)
    stream = load_dataset(DataConfig(dataset="dogs_vs_cats", source="synthetic", train_samples=4), 0)
    batched = BatchedDataset(data, [], [], [], 2, 1, 1, (28, 28, 1))
    for value, picked in ((data, "arrays"), (stream, "batches"), (batched, "batches")):
        assert isinstance(value, Dataset)
        assert value.read(Reader()) == picked
    assert data.sizes == {"train": 20, "val": 8, "test": 8}
    assert batched.name == "mnist" and batched.sizes == {"train": 2, "val": 1, "test": 1}


def test_array_batches_are_the_rows_in_order_with_the_target_applied():
    data = arrays(10)
    batches = list(data.batches("train", 4, target=lambda y: y * 10).as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([x for x, _ in batches]), data.x_train)
    assert np.array_equal(np.concatenate([y for _, y in batches]), data.y_train * 10)
    with pytest.raises(ValueError, match="no validation data"):
        data.batches("val", 4)


def test_describe_keeps_each_types_keys_in_order():
    data = arrays(10)
    assert list(data.describe()) == [
        "dataset",
        "source",
        "location",
        "validation",
        "order",
        "train_samples",
        "val_samples",
        "test_samples",
        "input_shape",
        "num_classes",
    ]
    batched = BatchedDataset(data, [], [], [], 6, 0, 2, (3, 2), extra={"window": {"size": 3}})
    described = batched.describe()
    assert list(described)[-2:] == ["rows_per_split", "window"]
    assert described["rows_per_split"] == {"train": 10, "val": 0, "test": 4}
    assert (described["train_samples"], described["input_shape"], described["num_classes"]) == (6, [3, 2], 2)
    stream = load_dataset(DataConfig(dataset="dogs_vs_cats", source="synthetic", train_samples=4), 0)
    assert list(stream.describe())[4:] == [
        "train_samples",
        "val_samples",
        "test_samples",
        "input_shape",
        "num_classes",
        "class_names",
        "pipeline",
        "order",
    ]


def test_a_stream_asked_for_arrays_says_which_experiments_read_it():
    stream = load_dataset(DataConfig(dataset="dogs_vs_cats", source="synthetic", train_samples=4), 0)
    assert not hasattr(stream, "x_train") and getattr(stream, "y_test", None) is None
    with pytest.raises(ConfigError, match="dogs_vs_cats is streamed .* folder_convnet or transfer"):
        stream.x_train  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        stream.nothing  # noqa: B018
