"""Class-folder trees streamed with tf.data, the dogs-vs-cats convnets and transfer learning."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from trees import write_tree

from dlab.config import DataConfig
from dlab.data.modalities.folders import load_folder_dataset
from dlab.errors import ConfigError, DataError
from dlab.framework.factory import resolve_config

FOLDER_CONFIGS = [
    "convnet-dogs-vs-cats",
    "convnet-dogs-vs-cats-aug",
    "vgg16-features",
    "vgg16-aug",
    "vgg16-finetune",
]


@pytest.fixture
def tree(tmp_path) -> Path:
    return write_tree(tmp_path / "pets")


def folder_data(tree: Path, **kwargs) -> DataConfig:
    return DataConfig(
        **{"dataset": "dogs_vs_cats", "source": "dir", "path": str(tree), "validation": "split", **kwargs}
    )


def all_images(stream) -> list[tuple[str, int]]:
    return [(hashlib.sha1(x.tobytes()).hexdigest(), int(y)) for x, y in stream.as_numpy_iterator()]


# --------------------------------------------------------------------------- the streams


def test_a_tree_of_pngs_and_jpegs_becomes_three_cached_uint8_streams(tree):
    data = load_folder_dataset(folder_data(tree), seed=0, image_size=32)
    assert data.sizes == {"train": 12, "val": 12, "test": 12}
    assert data.class_names == ["cat", "dog"] and data.image_shape == (32, 32, 3)
    images = list(data.splits["train"].as_numpy_iterator())
    assert images[0][0].shape == (32, 32, 3) and images[0][0].dtype == np.uint8
    labels = np.array([int(y) for _, y in images])
    assert np.bincount(labels).tolist() == [6, 6]
    brightness = np.array([x.mean() for x, _ in images])
    assert brightness[labels == 0].max() < brightness[labels == 1].min()  # cats dark, dogs bright
    assert data.describe()["pipeline"].startswith("tf.data, cache: memory")
    # the file list is shuffled once from the seed: the classes are mixed, not cat-cat-...-dog
    assert labels[:6].tolist() != [0] * 6


def test_the_cached_training_stream_is_the_same_images_every_epoch(tree):
    data = load_folder_dataset(folder_data(tree, train_samples=5), seed=1, image_size=24)
    first = sorted(all_images(data.splits["train"]))
    assert len(first) == 5 and sorted(all_images(data.splits["train"])) == first
    batches = list(data.batches("train", 2, shuffle=True).as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [2, 2, 1]


def test_a_validation_fraction_of_train_never_overlaps_the_training_images(tree):
    data = load_folder_dataset(folder_data(tree, validation=0.25), seed=0, image_size=24)
    assert data.sizes["train"] == 9 and data.sizes["val"] == 3
    train, val = all_images(data.splits["train"]), all_images(data.splits["val"])
    assert len(train) == 9 and len(val) == 3 and not set(train) & set(val)


def test_the_synthetic_twin_has_the_real_shapes_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = DataConfig(
        dataset="dogs_vs_cats", source="synthetic", validation="split", train_samples=6, test_samples=4
    )
    data = load_folder_dataset(config, seed=0)
    x, y = next(data.splits["train"].batch(6).as_numpy_iterator())
    assert x.shape == (6, 180, 180, 3) and x.dtype == np.uint8 and set(y) <= {0, 1}
    assert data.sizes == {"train": 6, "val": 4, "test": 4} and data.class_names == ["cat", "dog"]
    assert list(tmp_path.iterdir()) == []


def test_stream_targets_make_a_column_for_binary_cross_entropy(tree):
    from dlab.training import fit_inputs

    config = resolve_config("convnet-dogs-vs-cats")
    data = load_folder_dataset(folder_data(tree), seed=0, image_size=24)
    fit, evaluate = fit_inputs(data, config.train)
    x, y = next(iter(fit["x"]))
    assert tuple(y.shape) == (len(x), 1) and fit["shuffle"] is False
    assert sum(len(x) for x, _ in evaluate["x"]) == 12


# --------------------------------------------------------------------------- runs


@pytest.mark.parametrize("name", FOLDER_CONFIGS)
def test_every_folder_config_runs_on_a_tree_of_pngs_and_jpegs(cli, tmp_path, tree, name):
    result = cli(
        "run",
        name,
        "--smoke",
        "--device",
        "cpu",
        "--set",
        "data.source=dir",
        "--set",
        f"data.path={tree}",
        "--epochs",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert "evaluating the best checkpoint: epoch" in result.output
    (run,) = (tmp_path / "outputs" / name).iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["data"]["source"] == "dir"
    assert metrics["data"]["train_samples"] == 12 and metrics["data"]["num_classes"] == 2
    assert metrics["checkpoint"]["epoch"] in (1, 2) and metrics["epochs_run"] == 2
    assert metrics["test"]["accuracy"] >= 0.0 and len(metrics["test"]) == 2
    if name.startswith("vgg16"):
        assert metrics["backbone"]["weights"] is None and metrics["backbone"]["name"] == "vgg16"
    for figure in ("confusion_matrix", "predictions", "loss", "accuracy"):
        assert (run / "plots" / f"{figure}.png").stat().st_size > 0
    # the saved model takes raw images, whatever trained (features: base + head together)
    import keras

    import dlab.models.transfer  # noqa: F401  (registers the preprocessing layer)

    model = keras.models.load_model(run / "model.keras")
    size = metrics["data"]["input_shape"][0]
    assert model.predict(np.zeros((2, size, size, 3), np.uint8), verbose=0).shape == (2, 1)


def test_the_convnet_learns_an_easy_tree(cli, tmp_path):
    tree = write_tree(tmp_path / "easy", per_class=24)
    result = cli(
        "run",
        "convnet-dogs-vs-cats",
        "--smoke",
        "--device",
        "cpu",
        "--no-save",
        "--set",
        "data.source=dir",
        "--set",
        f"data.path={tree}",
        "--epochs",
        "6",
        "--set",
        "model.filters=[8,8,8,8,8]",
        "--batch-size",
        "8",
    )
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "convnet-dogs-vs-cats").iterdir()
    assert json.loads((run / "metrics.json").read_text())["test"]["accuracy"] >= 0.9


def test_feature_extraction_runs_the_base_once_per_split(cli, tmp_path, tree, monkeypatch):
    import keras
    import tensorflow as tf

    from dlab.models import transfer

    seen: list[int] = []
    real_build_base = transfer.build_base

    class CountImages(keras.layers.Layer):
        def call(self, x):
            count = tf.numpy_function(
                lambda batch: seen.append(len(batch)) or np.float32(0), [x], tf.float32, stateful=True
            )
            return x + tf.reshape(count, [])

        def compute_output_shape(self, input_shape):
            return input_shape

    def counting_base(spec, weights, size):
        base = real_build_base(spec, weights, size)
        inputs = keras.Input((size, size, 3))
        model = keras.Model(inputs, base(CountImages()(inputs)), name="counted")
        model.trainable = False
        return model

    monkeypatch.setattr(transfer, "build_base", counting_base)
    result = cli(
        "run",
        "vgg16-features",
        "--smoke",
        "--device",
        "cpu",
        "--no-save",
        "--set",
        "data.source=dir",
        "--set",
        f"data.path={tree}",
        "--epochs",
        "3",
    )
    assert result.exit_code == 0, result.output
    assert sum(seen) == 12 + 12 + 12, "every train, validation and test image exactly once"

    # the frozen base inside the model runs on every epoch instead (and more than once on test)
    seen.clear()
    result = cli(
        "run",
        "vgg16-aug",
        "--smoke",
        "--device",
        "cpu",
        "--no-save",
        "--set",
        "data.source=dir",
        "--set",
        f"data.path={tree}",
        "--epochs",
        "3",
        "--set",
        "train.checkpoint=null",
    )  # the counting layer cannot be reloaded
    assert result.exit_code == 0, result.output
    assert sum(seen) >= 3 * (12 + 12) + 12


class NumpyOnly:
    """A model as JAX's predict_on_batch takes its input: a tf.Tensor is refused there (TypeError)."""

    output_shape = (None, 2)

    def predict_on_batch(self, x):
        assert isinstance(x, np.ndarray), f"predict_on_batch got a {type(x).__name__}"
        return np.zeros((len(x), 2), np.float32)


def test_streamed_batches_reach_predict_on_batch_as_numpy_arrays(tree):
    """Every folder experiment failed on --backend jax: feature extraction and the test predictions
    handed tf.data's tensors to predict_on_batch, which JAX's trainer cannot trace."""
    from types import SimpleNamespace

    from dlab.framework import registry
    from dlab.models.transfer import extract_features

    data = load_folder_dataset(folder_data(tree), seed=0, image_size=32)
    features, labels, images = extract_features(NumpyOnly(), data.batches("train", 5), keep_images=3)
    assert features.shape == (12, 2) and labels.shape == (12,) and images.shape == (3, 32, 32, 3)
    ctx = SimpleNamespace(config=SimpleNamespace(train=SimpleNamespace(batch_size=5)), state={})
    true, scores = registry.get("transfer")().test_predictions(ctx, NumpyOnly(), data)
    assert true.shape == (12,) and scores.shape == (12, 2)


def build(name: str, *sets: str):
    from dlab.framework import registry

    config = resolve_config(name, smoke=True, sets=list(sets))
    experiment = registry.get(config.experiment)()
    data = experiment.load_data(config)
    return experiment.prepare(config, data), experiment


BLOCK5 = ["block5_conv1", "block5_conv2", "block5_conv3"]


@pytest.mark.parametrize(
    "layers, convs", [(0, []), (1, []), (4, BLOCK5), (5, BLOCK5), (6, ["block4_conv3", *BLOCK5])]
)
def test_fine_tuning_unfreezes_exactly_the_top_layers(layers, convs):
    model, experiment = build("vgg16-finetune", f"model.trainable_layers={layers}")
    base = model.get_layer("vgg16")
    # the pools count as layers but have no weights; each conv has a kernel and a bias
    assert len(base.trainable_weights) == 2 * len(convs)
    assert len(model.trainable_weights) == 2 * len(convs) + 4  # + Dense(256) and Dense(1)
    assert [layer.name for layer in base.layers if layer.trainable and layer.weights] == convs
    unfrozen = experiment.backbone_record["trainable_layers"]
    assert len(unfrozen) == layers and unfrozen[-1:] == (["block5_pool"] if layers else [])


def test_the_frozen_model_trains_only_its_head():
    model, _ = build("vgg16-aug")
    assert len(model.trainable_weights) == 4
    assert not model.get_layer("vgg16").trainable_weights


@pytest.mark.parametrize("backbone, size", [("resnet50", 32), ("inceptionv3", 75)])
def test_other_backbones_use_their_own_preprocessing_and_smallest_size(backbone, size):
    model, experiment = build("vgg16-features", f"model.backbone={backbone}")
    assert experiment.extractor.input_shape == (None, size, size, 3)
    assert experiment.extractor.get_layer("preprocess").backbone == backbone


def test_each_backbone_preprocesses_as_keras_applications_does():
    import keras

    from dlab.models.transfer import BackbonePreprocess

    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype("float32")
    for name, module in [("vgg16", "vgg16"), ("resnet50", "resnet50"), ("inceptionv3", "inception_v3")]:
        expected = getattr(keras.applications, module).preprocess_input(images.copy())
        got = keras.ops.convert_to_numpy(BackbonePreprocess(name)(images.astype(np.uint8)))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


# --------------------------------------------------------------------------- bad input


def run_error(cli, *args: str) -> str:
    result = cli("run", *args, "--device", "cpu", "--no-save")
    assert result.exit_code == 2, result.output
    assert not (Path.cwd() / "outputs").exists() or not any((Path.cwd() / "outputs").rglob("*.json"))
    return " ".join(result.output.split())


def test_train_and_validation_class_folders_that_differ(cli, tree):
    (tree / "validation" / "dog").rename(tree / "validation" / "dogs")
    message = run_error(
        cli, "convnet-dogs-vs-cats", "--smoke", "--set", "data.source=dir", "--set", f"data.path={tree}"
    )
    assert "train/ and validation/" in message and "cat, dog vs cat, dogs" in message


def test_an_empty_class_folder(cli, tree):
    (tree / "train" / "bird").mkdir()
    message = run_error(
        cli, "vgg16-features", "--smoke", "--set", "data.source=dir", "--set", f"data.path={tree}"
    )
    assert "bird" in message and "hold no images" in message


@pytest.mark.parametrize("content", [b"not an image at all", b"\xff\xd8\xff\xe0 truncated"])
def test_an_unreadable_image_is_named(cli, tree, content):
    (tree / "test" / "cat" / "broken.jpg").write_bytes(content)
    message = run_error(
        cli, "convnet-dogs-vs-cats", "--smoke", "--set", "data.source=dir", "--set", f"data.path={tree}"
    )
    assert "broken.jpg" in message and "Remove or replace it" in message


def test_a_missing_validation_folder_suggests_a_fraction(cli, tmp_path):
    tree = write_tree(tmp_path / "two", splits=("train", "test"))
    message = run_error(
        cli, "convnet-dogs-vs-cats", "--smoke", "--set", "data.source=dir", "--set", f"data.path={tree}"
    )
    assert "no validation/ folder" in message and "data.validation=0.2" in message


def test_the_real_data_without_a_path_says_where_to_get_it(cli):
    message = run_error(cli, "vgg16-features", "--set", "model.weights=null")
    assert "kaggle.com/c/dogs-vs-cats" in message and "--set data.path=DIR" in message


def test_an_unknown_backbone_lists_the_three(cli):
    message = run_error(cli, "vgg16-features", "--smoke", "--set", "model.backbone=vgg19")
    assert "'vgg16', 'resnet50' or 'inceptionv3'" in message


def test_three_classes_with_binary_cross_entropy(cli, tmp_path):
    tree = write_tree(tmp_path / "three", classes=("a", "b", "c"), per_class=2)
    message = run_error(
        cli, "convnet-dogs-vs-cats", "--smoke", "--set", "data.source=dir", "--set", f"data.path={tree}"
    )
    assert "3 classes" in message and "sparse_categorical_crossentropy" in message


def test_three_classes_train_with_a_softmax(cli, tmp_path):
    tree = write_tree(tmp_path / "three", classes=("a", "b", "c"), per_class=2)
    result = cli(
        "run",
        "vgg16-features",
        "--smoke",
        "--device",
        "cpu",
        "--no-save",
        "--set",
        "data.source=dir",
        "--set",
        f"data.path={tree}",
        "--set",
        "train.loss=sparse_categorical_crossentropy",
    )
    assert result.exit_code == 0, result.output


def test_init_from_a_run_of_another_experiment(cli, tmp_path):
    run = tmp_path / "convnet-run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"x")
    (run / "config.yaml").write_text("name: convnet-dogs-vs-cats\nexperiment: folder_convnet\n")
    message = run_error(cli, "vgg16-finetune", "--smoke", "--set", f"model.init_from={run}")
    assert "convnet-dogs-vs-cats" in message and "folder_convnet" in message
    assert "vgg16-aug" in message


def test_init_from_a_model_of_another_architecture(cli, tmp_path):
    import keras

    run = tmp_path / "other-run"
    run.mkdir()
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Flatten(name="flatten")(keras.layers.Conv2D(4, 3, name="vgg16")(inputs))
    keras.Model(inputs, keras.layers.Dense(1, name="predictions")(x)).save(run / "model.keras")
    (run / "config.yaml").write_text(
        "name: vgg16-aug\nexperiment: transfer\nmodel: {backbone: vgg16, mode: frozen}\n"
    )
    message = run_error(cli, "vgg16-finetune", "--smoke", "--set", f"model.init_from={run}")
    assert "different architecture" in message and "'vgg16'" in message


def test_init_from_a_folder_without_a_model(cli, tmp_path):
    message = run_error(cli, "vgg16-finetune", "--smoke", "--set", f"model.init_from={tmp_path}")
    assert "has no model.keras" in message


def test_imagenet_weights_offline_give_the_one_paragraph_help(cli, monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- offline")

    monkeypatch.setattr(file_utils, "get_file", offline)
    message = run_error(cli, "vgg16-features", "--smoke", "--set", "model.weights=imagenet")
    assert "Could not download the vgg16 ImageNet weights" in message
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "models" in message and "--set model.weights=null" in message


def test_a_size_too_small_for_the_backbone(cli):
    message = run_error(
        cli,
        "vgg16-features",
        "--smoke",
        "--set",
        "model.backbone=inceptionv3",
        "--set",
        "model.image_size=64",
    )
    assert "at least 75x75" in message


def test_augmentation_with_precomputed_features_is_refused():
    from dlab.framework import registry

    config = resolve_config("vgg16-features", smoke=True, sets=["model.augmentation={flip: horizontal}"])
    experiment = registry.get("transfer")()
    with pytest.raises(ConfigError, match="model.mode=frozen or finetune"):
        experiment.prepare(config, experiment.load_data(config))


def test_data_validation_split_on_an_array_dataset_without_one():
    from dlab.data import load_dataset

    with pytest.raises(ConfigError, match="own validation split .* mnist has none"):
        load_dataset(
            DataConfig(
                dataset="mnist", source="synthetic", validation="split", train_samples=8, test_samples=4
            ),
            seed=0,
        )


def test_sample_limits_keep_the_same_images_without_a_cache(tree):
    data = load_folder_dataset(folder_data(tree, train_samples=4, cache="none"), seed=0, image_size=16)
    first = sorted(all_images(data.splits["train"]))
    assert len(first) == 4 and sorted(all_images(data.splits["train"])) == first


def test_a_dir_path_that_is_a_file(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("x")
    with pytest.raises(DataError, match="is a file"):
        load_folder_dataset(folder_data(path), seed=0)


@pytest.mark.parametrize(
    "name, params",
    [("convnet-dogs-vs-cats", 991_041), ("convnet-dogs-vs-cats-aug", 991_041), ("vgg16-features", 3_277_313)],
)
def test_the_models_at_180x180_have_deep_learning_with_pythons_parameter_counts(name, params):
    model, _ = build(name, "model.image_size=180", "data.train_samples=4", "data.test_samples=2")
    assert model.count_params() == params  # the convnet; vgg16-features: the head on 5x5x512


def test_images_in_subfolders_of_a_class_count_as_keras_reads_them(tree):
    from PIL import Image

    nested = tree / "train" / "dog" / "more"
    nested.mkdir()
    Image.fromarray(np.full((20, 20, 3), 200, np.uint8)).save(nested / "extra.PNG")
    (tree / "train" / "cat" / "notes.txt").write_text("not an image, ignored by Keras too")
    data = load_folder_dataset(folder_data(tree), seed=0, image_size=16)
    assert data.sizes["train"] == 13 == len(all_images(data.splits["train"]))
