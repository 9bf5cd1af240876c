"""Dataset sources: synthetic twin, .npz file, class-folder tree, keras download (replaced)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_image_tree

from dlab.config import DataConfig
from dlab.data import ArrayDataset, load_dataset, split_validation
from dlab.data.datasets.cifar10 import SPEC
from dlab.data.modalities.images import synthetic_images
from dlab.errors import ConfigError, DataError


def data_config(**kwargs) -> DataConfig:
    return DataConfig(dataset="cifar10", **kwargs)


def test_synthetic_twin_has_the_real_shapes_dtypes_and_labels():
    (x_train, y_train), (x_test, y_test) = synthetic_images(SPEC, 300, 100, seed=3)
    assert x_train.shape == (300, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (300, 1) and y_train.dtype == np.uint8
    assert x_test.shape == (100, 32, 32, 3) and y_test.shape == (100, 1)
    assert set(np.unique(y_train)) == set(range(10))


def test_synthetic_twin_is_deterministic_from_the_seed():
    first = synthetic_images(SPEC, 50, 10, seed=3)
    again = synthetic_images(SPEC, 50, 10, seed=3)
    other = synthetic_images(SPEC, 50, 10, seed=4)
    assert np.array_equal(first[0][0], again[0][0]) and np.array_equal(first[1][1], again[1][1])
    assert not np.array_equal(first[0][0], other[0][0])


def test_synthetic_twin_carries_a_learnable_signal():
    """A nearest-class-mean classifier fitted on train beats chance by far on test."""
    (x_train, y_train), (x_test, y_test) = synthetic_images(SPEC, 2000, 500, seed=0)
    flat_train = x_train.reshape(len(x_train), -1).astype(np.float32)
    flat_test = x_test.reshape(len(x_test), -1).astype(np.float32)
    means = np.stack([flat_train[y_train[:, 0] == c].mean(0) for c in range(10)])
    distances = ((flat_test[:, None, :] - means[None]) ** 2).sum(-1)
    accuracy = (distances.argmin(1) == y_test[:, 0]).mean()
    assert accuracy > 0.5


def test_synthetic_source_uses_the_configured_sizes_and_validation():
    data = load_dataset(
        data_config(source="synthetic", train_samples=100, test_samples=30, validation=0.2), seed=1
    )
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (80, 20, 30)
    assert data.describe()["source"] == "synthetic"
    assert data.class_names[0] == "airplane"


def test_file_source_reads_an_npz_in_the_keras_layout(cifar_npz):
    data = load_dataset(data_config(source="file", path=str(cifar_npz)), seed=0)
    assert data.x_train.shape == (40, 32, 32, 3) and data.y_train.shape == (40, 1)
    assert data.x_val is data.x_test  # validation: test
    assert data.location == str(cifar_npz)
    with np.load(cifar_npz) as original:
        assert np.array_equal(data.x_train, original["x_train"])


def test_file_source_limits_samples(cifar_npz):
    data = load_dataset(
        data_config(source="file", path=str(cifar_npz), train_samples=10, test_samples=5), seed=0
    )
    assert len(data.x_train) == 10 and len(data.x_test) == 5


def test_npz_without_the_expected_keys(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((2, 32, 32, 3), np.uint8), images=np.zeros(3))
    with pytest.raises(DataError, match="lacks the arrays y_train, x_test, y_test"):
        load_dataset(data_config(source="file", path=str(path)), seed=0)


def test_npz_with_the_wrong_image_shape(tmp_path):
    path = tmp_path / "mnist-like.npz"
    np.savez(
        path,
        x_train=np.zeros((2, 28, 28), np.uint8),
        y_train=np.zeros(2, np.uint8),
        x_test=np.zeros((2, 28, 28), np.uint8),
        y_test=np.zeros(2, np.uint8),
    )
    with pytest.raises(DataError, match=r"must be \(N, 32, 32, 3\)"):
        load_dataset(data_config(source="file", path=str(path)), seed=0)


def test_file_source_needs_a_path_that_exists(tmp_path):
    with pytest.raises(DataError, match="needs data.path"):
        load_dataset(data_config(source="file"), seed=0)
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(data_config(source="file", path=str(tmp_path / "nope.npz")), seed=0)


def test_dir_source_reads_class_folders_and_resizes(image_tree):
    data = load_dataset(data_config(source="dir", path=str(image_tree)), seed=0)
    assert data.x_train.shape == (12, 32, 32, 3) and data.x_train.dtype == np.uint8
    assert data.y_train.shape == (12, 1)
    assert data.class_names == ["cat", "dog", "frog"]
    assert sorted(np.unique(data.y_test)) == [0, 1, 2]
    # the class colours survive the resize (cat ~ 40*0 + noise, frog ~ 40*2 + noise)
    cat = data.x_train[data.y_train[:, 0] == 0].mean()
    frog = data.x_train[data.y_train[:, 0] == 2].mean()
    assert cat < 40 < frog


def test_dir_source_without_a_test_folder(tmp_path):
    root = write_image_tree(tmp_path / "t", splits=("train",))
    with pytest.raises(DataError, match="has no test/ folder"):
        load_dataset(data_config(source="dir", path=str(root)), seed=0)


def test_dir_source_without_images(tmp_path):
    (tmp_path / "t" / "train" / "cat").mkdir(parents=True)
    (tmp_path / "t" / "train" / "cat" / "notes.txt").write_text("no image")
    (tmp_path / "t" / "test" / "cat").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no images"):
        load_dataset(data_config(source="dir", path=str(tmp_path / "t")), seed=0)


def test_dir_source_with_different_classes(tmp_path):
    root = write_image_tree(tmp_path / "t", splits=("train",))
    write_image_tree(root, classes=("cat", "dog"), splits=("test",))
    with pytest.raises(DataError, match="different class folders"):
        load_dataset(data_config(source="dir", path=str(root)), seed=0)


def test_keras_source_calls_keras_datasets(monkeypatch):
    import keras

    calls = []

    def fake_load_data():
        calls.append(1)
        x = np.zeros((6, 32, 32, 3), np.uint8)
        y = np.arange(6, dtype=np.uint8).reshape(6, 1)
        return (x, y), (x[:2], y[:2])

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", fake_load_data)
    data = load_dataset(data_config(source="keras"), seed=0)
    assert calls and data.source == "keras"
    assert data.location == SPEC.url and len(data.x_train) == 6


def test_keras_source_offline_gives_the_one_paragraph_help(monkeypatch):
    import keras

    def offline():
        raise Exception(f"URL fetch failure on {SPEC.url}: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(DataError) as caught:
        load_dataset(data_config(source="keras"), seed=0)
    message = str(caught.value)
    assert "Could not download the cifar10 dataset from " + SPEC.url in message
    assert "cifar-10-batches-py-target_archive" in message  # where to put it by hand
    assert "--set data.source=file --set data.path=" in message
    assert "--smoke" in message
    assert caught.value.exit_code == 2


def test_unknown_dataset():
    with pytest.raises(ConfigError, match="Did you mean 'cifar10'"):
        load_dataset(DataConfig(dataset="cifar", source="synthetic"), seed=0)


def make(n: int) -> ArrayDataset:
    x = np.arange(n)
    return ArrayDataset("toy", "synthetic", None, x, x, x[:3], x[:3])


def test_split_validation_first_n_random_fraction_and_test():
    first = split_validation(make(10), 4)
    assert list(first.x_val) == [0, 1, 2, 3] and list(first.x_train) == [4, 5, 6, 7, 8, 9]
    random = split_validation(make(10), 0.2, seed=3)
    assert len(random.x_val) == 2 and len(random.x_train) == 8
    assert sorted([*random.x_val, *random.x_train]) == list(range(10))  # no overlap, none lost
    assert list(split_validation(make(10), 0.2, seed=3).x_val) == list(random.x_val)  # seeded
    assert "random 20%" in random.validation
    test = split_validation(make(10), "test")
    assert test.x_val is test.x_test and len(test.x_train) == 10


def test_an_ordered_series_validates_on_its_last_part_and_refuses_a_count():
    from dataclasses import replace

    series = replace(make(10), ordered=True, order="time order, kept on purpose")
    last = split_validation(series, 0.2, seed=3)
    assert list(last.x_val) == [8, 9] and list(last.x_train) == list(range(8))
    with pytest.raises(
        ConfigError,
        match=r"data.validation=4 takes the first 4 .* keeps its "
        r"order on purpose \(time order",
    ):
        split_validation(series, 4)


def test_split_validation_refuses_to_leave_nothing():
    with pytest.raises(ConfigError, match="data.validation=10"):
        split_validation(make(10), 10)
