"""Segmentation: the oxford_pets stream (keras / dir / synthetic), mean IoU, the encoder-decoder."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from dlab.config import DataConfig

SIZE = 16


def write_pets(
    root: Path,
    count: int = 6,
    size: int = SIZE,
    mask_folder: str = "annotations/trimaps",
    values=(1, 2, 3),
    image_suffix: str = ".jpg",
) -> Path:
    """A tree in the Oxford pets layout: images/<name>.jpg and annotations/trimaps/<name>.png.

    Each mask is a known pattern of ``values`` (rows cycle through them), so tests can
    compare the streamed labels with what was written.
    """
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / mask_folder).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = f"Abyssinian_{i}"
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"{name}{image_suffix}")
        Image.fromarray(mask_pattern(i, size, values)).save(root / mask_folder / f"{name}.png")
    return root


def mask_pattern(index: int, size: int, values) -> np.ndarray:
    rows = (np.arange(size)[:, None] + index + np.zeros((1, size), int)) % len(values)
    return np.asarray(values, dtype=np.uint8)[rows]


def streamed(data, split: str) -> tuple[np.ndarray, np.ndarray]:
    images, masks = zip(*[(np.asarray(x), np.asarray(y)) for x, y in data.batches(split, 64)], strict=True)
    return np.concatenate(images), np.concatenate(masks)


def config(**settings) -> DataConfig:
    return DataConfig(**{"dataset": "oxford_pets", "image_size": SIZE, "validation": 2, **settings})


def expected_masks(count: int, values, offset: int) -> set[bytes]:
    return {
        (mask_pattern(i, SIZE, values).astype(int) + offset).astype(np.uint8).tobytes() for i in range(count)
    }


# --------------------------------------------------------------------------- mean IoU


def test_mean_iou_equals_numpy_on_a_fixed_example():
    import keras

    from dlab.training.losses import CLASS_METRICS

    true = np.array([[[0, 0, 1], [1, 2, 2], [2, 2, 0]], [[1, 1, 1], [0, 0, 2], [2, 1, 0]]], dtype=np.uint8)[
        ..., None
    ]
    predicted = np.array([[[0, 1, 1], [1, 2, 0], [2, 2, 0]], [[1, 1, 0], [0, 2, 2], [2, 1, 1]]])
    scores = keras.ops.convert_to_numpy(keras.ops.one_hot(predicted, 3)) * 0.8 + 0.2 / 3
    ious = []
    for c in range(3):
        t, p = true[..., 0] == c, predicted == c
        ious.append((t & p).sum() / (t | p).sum())
    metric = CLASS_METRICS["mean_iou"](3)
    metric.update_state(true[:1], scores[:1])
    metric.update_state(true[1:], scores[1:])  # accumulated over batches, not averaged
    assert float(metric.result()) == pytest.approx(np.mean(ious), abs=1e-6)
    assert 0.3 < np.mean(ious) < 0.9 and metric.name == "mean_iou"


# --------------------------------------------------------------------------- dir


def test_the_pets_layout_streams_jpegs_with_trimap_minus_one(tmp_path):
    from dlab.data import load_dataset

    root = write_pets(tmp_path / "pets", count=6)
    data = load_dataset(config(source="dir", path=str(root)), seed=0)
    assert data.sizes == {"train": 4, "val": 2, "test": 2}
    assert data.class_names == ["pet", "background", "border"] and data.num_classes == 3
    seen = set()
    for split in ("train", "val"):
        images, masks = streamed(data, split)
        assert images.shape[1:] == (SIZE, SIZE, 3) and images.dtype == np.uint8
        assert masks.shape[1:] == (SIZE, SIZE, 1) and masks.dtype == np.uint8
        seen |= {mask[..., 0].tobytes() for mask in masks}
    assert seen == expected_masks(6, (1, 2, 3), -1)  # every trimap, as classes 0..2
    assert data.describe()["mask_offset"] == -1


def test_an_images_and_masks_tree_with_an_offset_and_more_classes(tmp_path):
    from dlab.data import load_dataset

    root = write_pets(
        tmp_path / "tree", count=5, mask_folder="masks", values=(10, 11, 12, 13), image_suffix=".png"
    )
    data = load_dataset(config(source="dir", path=str(root), mask_offset=-10, num_classes=5), seed=0)
    assert data.num_classes == 5 and data.class_names[4] == "class 4"
    _, train = streamed(data, "train")
    _, val = streamed(data, "val")
    masks = {m[..., 0].tobytes() for m in np.concatenate([train, val])}
    assert masks == expected_masks(5, (10, 11, 12, 13), -10)


def test_images_are_resized_bilinearly_and_masks_by_nearest_neighbour(tmp_path):
    from dlab.data import load_dataset

    root = write_pets(tmp_path / "pets", count=4, size=32)
    data = load_dataset(config(source="dir", path=str(root), image_size=[8, 16]), seed=0)
    images, masks = streamed(data, "train")
    assert images.shape[1:] == (8, 16, 3) and masks.shape[1:] == (8, 16, 1)
    assert set(np.unique(masks)) <= {0, 1, 2}  # no blended class numbers


def test_the_synthetic_twin_is_deterministic_from_the_seed():
    from dlab.data import load_dataset

    settings = config(source="synthetic", train_samples=6, validation=3)
    first, again = (streamed(load_dataset(settings, seed=5), "train") for _ in range(2))
    other = streamed(load_dataset(settings, seed=6), "train")
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert set(np.unique(first[1])) == {0, 1, 2}


# --------------------------------------------------------------------------- keras


def test_the_keras_source_downloads_and_extracts_both_archives(tmp_path, monkeypatch):
    import keras

    from dlab.data import load_dataset

    tree = write_pets(tmp_path / "server-files", count=5)
    server = tmp_path / "server"
    server.mkdir()
    for archive, folder in (("images.tar.gz", "images"), ("annotations.tar.gz", "annotations")):
        with tarfile.open(server / archive, "w:gz") as tar:
            tar.add(tree / folder, arcname=folder)
    real_get_file = keras.utils.get_file
    fetched = []

    def get_file(fname, origin, extract=False, **kwargs):
        fetched.append((fname, origin, extract))
        local = (server / fname).as_uri()  # the real get_file, from a file:// "server"
        return real_get_file(fname, local, extract=extract, cache_dir=str(tmp_path / "keras"))

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    data = load_dataset(config(source="keras"), seed=0)
    assert [f[0] for f in fetched] == ["images.tar.gz", "annotations.tar.gz"]
    assert all(
        origin.startswith("https://thor.robots.ox.ac.uk/datasets/pets/") and extract
        for _, origin, extract in fetched
    )
    assert data.sizes["train"] == 3 and data.location.startswith("https://thor.robots.ox.ac.uk")
    _, masks = streamed(data, "val")
    assert {m[..., 0].tobytes() for m in masks} <= expected_masks(5, (1, 2, 3), -1)


def test_the_keras_source_offline_gives_the_one_paragraph_help(cli, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://thor.robots.ox.ac.uk/...: None -- offline")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    result = cli("run", "segmentation-pets", "--device", "cpu", "--epochs", "1")
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "Could not download the oxford_pets dataset" in message
    assert "images.tar.gz" in message and "annotations.tar.gz" in message
    assert "data.source=dir" in message and "--smoke" in message


# --------------------------------------------------------------------------- bad input


def run_error(cli, *args: str) -> str:
    result = cli(
        "run",
        "segmentation-pets",
        "--smoke",
        "--device",
        "cpu",
        "--no-save",
        "--set",
        "data.source=dir",
        "--set",
        f"data.image_size={SIZE}",
        "--set",
        "data.validation=2",
        *args,
    )
    assert result.exit_code == 2, result.output
    outputs = Path.cwd() / "outputs"
    assert not outputs.exists() or not any(outputs.rglob("*.json"))  # nothing ran
    return " ".join(result.output.split())


def save_mask(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(pixels.astype(np.uint8)).save(path)


def test_a_mask_value_beyond_the_classes_is_named_with_its_file(cli, tmp_path):
    root = write_pets(tmp_path / "pets")
    bad = root / "annotations" / "trimaps" / "Abyssinian_3.png"
    save_mask(bad, np.full((SIZE, SIZE), 4))
    message = run_error(cli, "--set", f"data.path={root}")
    assert "Abyssinian_3.png" in message and "mask value 4" in message and "0..2" in message


def test_a_mask_of_another_size_than_its_image(cli, tmp_path):
    root = write_pets(tmp_path / "pets")
    save_mask(root / "annotations" / "trimaps" / "Abyssinian_1.png", np.ones((SIZE, SIZE + 3)))
    message = run_error(cli, "--set", f"data.path={root}")
    assert "Abyssinian_1.png" in message and f"{SIZE + 3}x{SIZE}" in message


def test_palette_masks_count_only_when_their_colours_are_their_gray_indices(cli, tmp_path):
    from PIL import Image

    from dlab.data import load_dataset

    root = write_pets(tmp_path / "pets", count=4)
    trimap = root / "annotations" / "trimaps" / "Abyssinian_0.png"
    palette = Image.fromarray(mask_pattern(0, SIZE, (1, 2, 3)), mode="L").convert("P")
    palette.putpalette([level for i in range(256) for level in (i, i, i)])
    palette.save(trimap)
    data = load_dataset(config(source="dir", path=str(root)), seed=0)
    masks = np.concatenate([streamed(data, split)[1] for split in ("train", "val")])
    assert {m[..., 0].tobytes() for m in masks} == expected_masks(4, (1, 2, 3), -1)
    palette.putpalette([255 - level for i in range(256) for level in (i, i, i)])
    palette.save(trimap)
    message = run_error(cli, "--set", f"data.path={root}")
    assert "Abyssinian_0.png is a palette PNG" in message


def test_an_image_without_a_mask(cli, tmp_path):
    root = write_pets(tmp_path / "pets")
    (root / "annotations" / "trimaps" / "Abyssinian_2.png").unlink()
    message = run_error(cli, "--set", f"data.path={root}")
    assert "Abyssinian_2.jpg" in message and "no mask" in message


def test_an_unreadable_image_is_named(cli, tmp_path):
    root = write_pets(tmp_path / "pets")
    (root / "images" / "Abyssinian_4.jpg").write_bytes(b"not a picture at all")
    message = run_error(cli, "--set", f"data.path={root}")
    assert "Abyssinian_4.jpg" in message


def test_missing_folders(cli, tmp_path):
    (tmp_path / "empty" / "images").mkdir(parents=True)
    message = run_error(cli, "--set", f"data.path={tmp_path / 'empty'}")
    assert "no annotations/trimaps/ or masks/" in message
    message = run_error(cli, "--set", f"data.path={tmp_path}")
    assert "no images/ folder" in message


def test_an_image_size_the_encoder_cannot_halve_three_times(cli):
    result = cli("run", "segmentation-pets", "--smoke", "--device", "cpu", "--set", "data.image_size=30")
    assert result.exit_code == 2 and "not divisible by 8" in result.output


# --------------------------------------------------------------------------- runs


def test_a_run_on_a_pets_tree_reports_iou_and_saves_a_loadable_model(cli, tmp_path):
    import keras

    root = write_pets(tmp_path / "pets", count=10)
    result = cli(
        "run",
        "segmentation-pets",
        "--smoke",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--set",
        "data.source=dir",
        "--set",
        f"data.path={root}",
        "--set",
        f"data.image_size={SIZE}",
        "--set",
        "data.validation=3",
    )
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "segmentation-pets").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data"]["train_samples"] == 7 and metrics["data"]["val_samples"] == 3
    assert set(metrics["test"]) == {"loss", "accuracy", "mean_iou"}
    history = json.loads((run / "history.json").read_text())
    assert len(history["val_mean_iou"]) == 2 and len(history["accuracy"]) == 2
    assert metrics["checkpoint"]["epoch"] in (1, 2)
    assert (run / "plots" / "masks.png").stat().st_size > 0
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    scores = model.predict(np.zeros((1, SIZE, SIZE, 3), np.uint8), verbose=0)
    assert scores.shape == (1, SIZE, SIZE, 3)
    assert np.allclose(scores.sum(axis=-1), 1.0, atol=1e-4)


def test_the_encoder_decoder_matches_deep_learning_with_python():
    from dlab.framework import registry
    from dlab.framework.factory import resolve_config

    config = resolve_config(
        "segmentation-pets", sets=["data.source=synthetic", "data.train_samples=4", "data.validation=2"]
    )
    experiment = registry.get(config.experiment)()
    model = experiment.prepare(config, experiment.load_data(config))
    kinds = [
        (type(layer).__name__, getattr(layer, "filters", None), getattr(layer, "strides", (None,))[0])
        for layer in model.layers[2:]
    ]
    assert kinds == [
        ("Conv2D", 64, 2),
        ("Conv2D", 64, 1),
        ("Conv2D", 128, 2),
        ("Conv2D", 128, 1),
        ("Conv2D", 256, 2),
        ("Conv2D", 256, 1),
        ("Conv2DTranspose", 256, 1),
        ("Conv2DTranspose", 256, 2),
        ("Conv2DTranspose", 128, 1),
        ("Conv2DTranspose", 128, 2),
        ("Conv2DTranspose", 64, 1),
        ("Conv2DTranspose", 64, 2),
        ("Conv2D", 3, 1),
    ]
    assert model.output_shape == (None, 200, 200, 3)
    layers = [
        (3, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),  # 3x3 kernels
        (256, 256),
        (256, 256),
        (256, 128),
        (128, 128),
        (128, 64),
        (64, 64),
        (64, 3),
    ]
    assert model.count_params() == sum(9 * a * b + b for a, b in layers) == 2_880_643


def test_the_model_learns_to_segment_the_synthetic_shapes(cli, tmp_path):
    """Predicting 'background' everywhere scores a mean IoU of ~0.25; the shapes need ~0.5."""
    result = cli(
        "run",
        "segmentation-pets",
        "--smoke",
        "--device",
        "cpu",
        "--no-save",
        "--set",
        "data.train_samples=128",
        "--set",
        "data.validation=32",
        "--set",
        "model.filters=[16,32,32]",
        "--epochs",
        "8",
    )
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "outputs" / "segmentation-pets").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    history = json.loads((run / "history.json").read_text())
    best = metrics["checkpoint"]["epoch"]
    assert metrics["test"]["loss"] == pytest.approx(min(history["val_loss"]), rel=1e-4)
    assert metrics["test"]["mean_iou"] == pytest.approx(history["val_mean_iou"][best - 1], rel=1e-4)
    assert metrics["test"]["mean_iou"] > 0.45
