"""The MNIST / Fashion-MNIST / CIFAR classifiers: sources, figures, shapes, learning."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_image_tree

from dlab.config import DataConfig
from dlab.data import load_dataset
from dlab.errors import DataError


def test_mnist_dir_tree_of_rgb_pngs_is_converted_to_grayscale_with_sorted_labels(tmp_path):
    root = write_image_tree(tmp_path / "digits", classes=("3", "1", "2"), per_class=2, size=30)
    data = load_dataset(DataConfig(dataset="mnist", source="dir", path=str(root)), seed=0)
    assert data.x_train.shape == (6, 28, 28, 1) and data.x_train.dtype == np.uint8
    assert data.class_names == ["1", "2", "3"]  # sorted folder names, as Keras orders them
    assert sorted(data.y_train) == [0, 0, 1, 1, 2, 2]  # read class by class, then permuted
    # the tree's class "1" images were drawn with intensity 40 * 1 (+ noise < 30)
    assert 40 <= data.x_train[data.y_train == 0].mean() < 70


def test_an_undecodable_image_is_named(tmp_path):
    root = write_image_tree(tmp_path / "t")
    broken = root / "test" / "dog" / "broken.png"
    broken.write_bytes(b"this is not a png")
    with pytest.raises(DataError, match="broken.png is not a PNG, JPEG"):
        load_dataset(DataConfig(dataset="fashion_mnist", source="dir", path=str(root)), seed=0)


def test_fashion_offline_message_lists_every_file(monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(DataError) as caught:
        load_dataset(DataConfig(dataset="fashion_mnist", source="keras"), seed=0)
    message = str(caught.value)
    assert message.count("fashion-mnist/") == 4 and "t10k-images-idx3-ubyte.gz" in message


def test_the_confusion_matrix_has_one_row_and_column_per_class():
    from dlab.plots import confusion_matrix

    names = [f"class {i}" for i in range(10)]
    figure = confusion_matrix(np.arange(50) % 10, (np.arange(50) + 1) % 10, names, title="t")
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == names
    assert [t.get_text() for t in axes.get_yticklabels()] == names
    assert "accuracy 0.000" in axes.get_title()


def test_the_prediction_grid_marks_wrong_predictions_in_red():
    from dlab.plots import prediction_grid

    images = np.zeros((4, 28, 28, 1), np.uint8)
    figure = prediction_grid(images, [0, 1, 2, 3], [0, 1, 2, 0], ["a", "b", "c", "d"], title="t")
    (axes,) = figure.axes  # one tiled picture
    labels = [(text.get_text(), text.get_color()) for text in axes.texts]
    assert labels == [("a", "black"), ("b", "black"), ("c", "black"), ("a\n(true: d)", "red")]
    picture = axes.images[0].get_array()
    assert picture.shape[:2] == (28 + 8 + 2, 5 * (28 + 2))  # label band + image + gap; 5 columns


def test_the_prediction_grid_tiles_colour_images_and_keeps_their_pixels():
    from dlab.plots import prediction_grid

    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    figure = prediction_grid(images, [0] * 8, [0] * 8, ["cat"], title="t")
    picture = figure.axes[0].images[0].get_array()
    band, gap = 10, 3  # 0.3 and 0.08 of 32 px, rounded
    assert picture.shape == (2 * (band + 32 + gap), 5 * (32 + gap), 3)
    top, left = (band + 32 + gap) + band, 2 * (32 + gap)  # second row, third column: image 7
    np.testing.assert_array_equal(picture[top : top + 32, left : left + 32], images[7])
    assert (picture[:band] == 255).all()  # the label band is white


@pytest.mark.parametrize("name", ["mlp-mnist", "cnn-mnist", "cnn-mnist-adam", "cnn-cifar10"])
def test_smoke_runs_learn_above_chance_and_draw_the_classifier_figures(cli, tmp_path, name):
    result = cli("run", name, "--smoke", "--no-save")
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / name).iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.3, "10 classes: chance is 0.1"
    assert (run / "plots" / "confusion_matrix.png").stat().st_size > 0
    assert (run / "plots" / "predictions.png").stat().st_size > 0


def test_noise_channels_are_appended_and_the_grid_shows_the_digits(cli, tmp_path):
    result = cli("run", "mnist-noise-channels", "--smoke", "--no-save")
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "mnist-noise-channels").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data"]["input_shape"] == [1568]
    assert metrics["data"]["extra_channels"] == "noise"
    assert metrics["params"]["total"] == 1568 * 512 + 512 + 5130


def test_an_input_too_small_for_alexnet_fails_before_training_naming_the_layer(cli, tmp_path):
    result = cli("run", "alexnet-fashion", "--smoke", "--set", "model.input_size=null")
    assert result.exit_code == 2, result.output
    assert "layer 'pool2'" in result.output or "layer 'pool3'" in result.output
    assert "too small" in result.output and "Traceback" not in result.output
    assert not list(tmp_path.glob("outputs/*/*")), "a run directory was created"


def test_resizing_happens_inside_the_model():
    from dlab.framework.factory import resolve_config
    from dlab.framework.registry import get

    config = resolve_config("resnet18-fashion", smoke=True)
    experiment = get(config.experiment)()
    data = experiment.load_data(config)
    model = experiment.prepare(config, data)
    assert data.x_train.shape[1:] == (28, 28, 1)  # the arrays stay small
    assert model.input_shape == (None, 28, 28, 1)
    assert model.get_layer("resize").output.shape[1:3] == (96, 96)


def test_keras_source_images_get_the_channel_axis(monkeypatch):
    """keras.datasets.mnist returns (N, 28, 28); every source must give (N, 28, 28, 1)."""
    import keras

    def fake_load_data():
        x = np.zeros((6, 28, 28), np.uint8)
        y = np.arange(6, dtype=np.uint8)
        return (x, y), (x[:2], y[:2])

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_load_data)
    data = load_dataset(DataConfig(dataset="mnist", source="keras"), seed=0)
    assert data.x_train.shape == (6, 28, 28, 1) and data.x_test.shape == (2, 28, 28, 1)
