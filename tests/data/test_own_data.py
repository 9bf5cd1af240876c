"""Your own data, no module needed: an .npz of arrays, a folder of image class folders, a folder
of text class folders, trained with a model function of your own and predicted from raw files.

The files are written as they are found in the wild: class by class (every example of the first
class, then the next), with Keras's and aclImdb's file names (``cat.0.jpg``, ``pos/0_9.txt``).
"""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlab import api
from dlab.cli import app
from dlab.config import DataConfig
from dlab.data import load_dataset
from dlab.errors import ConfigError, DataError
from dlab.framework.factory import resolve_config

MODELS = """
import keras


def build_dense(input_shape, num_classes, task, units=16):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Dense(units, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1 if task == "regression" else num_classes)(x))


def build_cnn(input_shape, num_classes, filters=4):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(filters, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))


def build_text(input_shape, num_classes, vocabulary_size, dim=8):
    inputs = keras.Input(shape=input_shape, dtype="int32")
    x = keras.layers.Embedding(vocabulary_size, dim)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x))


def build_two_outputs(input_shape):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))
"""

CLASSIFY = {
    "epochs": 2,
    "batch_size": 8,
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "loss": "sparse_categorical_crossentropy",
    "from_logits": True,
    "metrics": ["accuracy"],
}
REGRESS = {**CLASSIFY, "loss": "mse", "from_logits": False, "metrics": ["mae"]}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A working folder with the user's models.py, outside any dlab project."""
    monkeypatch.delenv("DLAB_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models.py").write_text(MODELS)
    return tmp_path


def dlab(*args: str):
    return CliRunner().invoke(app, list(args))


def write_config(folder: Path, name: str, data: dict, build: str, train: dict = CLASSIFY, **model) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {"seed": 3, "data": data, "model": {"build": f"models.py:{build}", **model}, "train": train}
        )
    )
    return path


def train(config: Path):
    return api.run(str(config), out=config.parent / "outputs", quiet=True, verbose=0)


def run_dirs(folder: Path) -> list[Path]:
    return list(folder.glob("outputs/*/*"))


def assert_every_split_has_every_class(block: dict, classes: list[str]) -> None:
    counts = block["class_counts"]
    assert set(counts) == {"train", "val", "test"}
    for split, row in counts.items():
        assert all(row.get(name, 0) > 0 for name in classes), f"{split}: {row}"


def predict_rows(run_dir: Path, *inputs: Path) -> list[dict]:
    result = dlab("predict", str(run_dir), *map(str, inputs), "-o", str(run_dir.parent / "predictions.csv"))
    assert result.exit_code == 0, result.output
    with open(run_dir.parent / "predictions.csv", newline="") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- files as found


def write_rows_npz(path: Path, per_class: int = 20, classes: int = 3, features: int = 4) -> Path:
    """x, y as boston_housing.npz / reuters.npz keep them, written class by class."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(classes), per_class)
    x = rng.normal(size=(len(y), features)).astype(np.float32)
    x[:, 0] += 3.0 * y
    np.savez(path, x=x, y=y)
    return path


def write_mnist_npz(path: Path, per_class: int = 20, size: int = 8) -> Path:
    """x_train ... y_test as mnist.npz keeps them ((N, H, W) uint8), each split class by class."""
    rng = np.random.default_rng(1)

    def split(count: int):
        y = np.repeat(np.arange(2, dtype=np.uint8), count)
        x = rng.integers(0, 60, (len(y), size, size)).astype(np.uint8)
        x[y == 1] += 150
        return x, y

    (x_train, y_train), (x_test, y_test) = split(per_class), split(per_class // 2)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def write_pets(root: Path, per_class: int = 12, classes=("cat", "dog"), folder: str = "", mode: str = "RGB"):
    """Images as Kaggle's dogs-vs-cats names them (cat.0.jpg ...), in ROOT/[folder/]<class>/."""
    from PIL import Image

    rng = np.random.default_rng(2)
    for index, name in enumerate(classes):
        target = root / folder / name
        target.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape = (20, 24, 3) if mode == "RGB" else (20, 24)
            pixels = np.full(shape, 40 + 150 * index) + rng.integers(0, 40, shape)
            suffix = "jpg" if mode == "RGB" else "png"
            Image.fromarray(pixels.astype(np.uint8), mode=mode).save(target / f"{name}.{i}.{suffix}")
    return root


WORDS = {"neg": ["bad", "awful", "boring", "dull"], "pos": ["good", "great", "fun", "lovely"]}
FILLER = ["the", "movie", "was", "and", "plot", "it's", "acting"]


def write_reviews(root: Path, per_class: int = 12, splits=("train", "test"), unsup: bool = True) -> Path:
    """An aclImdb tree: SPLIT/neg|pos/<id>_<rating>.txt, train/unsup/, and the top-level files."""
    rng = np.random.default_rng(4)
    for split in splits:
        for name, words in WORDS.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                rating = int(rng.integers(7, 11)) if name == "pos" else int(rng.integers(1, 5))
                body = " ".join(rng.choice(words + FILLER, 10))
                extra = " zebra" if split == "test" else ""  # a word no training document has
                (folder / f"{i}_{rating}.txt").write_text(
                    f"{body.capitalize()}.<br /><br />Really {words[i % 4]}!{extra}"
                )
        (root / split / f"urls_{split}.txt").parent.mkdir(parents=True, exist_ok=True)
        (root / split / f"urls_{split}.txt").write_text("http://www.imdb.com/title/tt0000001/usercomments\n")
    if unsup:
        (root / "train" / "unsup").mkdir(parents=True, exist_ok=True)
        for i in range(5):
            (root / "train" / "unsup" / f"{i}_0.txt").write_text("An unlabelled review of a movie.")
    (root / "imdb.vocab").write_text("the\nmovie\n")
    (root / "README").write_text("Large Movie Review Dataset v1.0\n")
    return root


# --------------------------------------------------------------------------- npz


def test_npz_rows_hold_out_a_stratified_test_split_and_predict_rows_of_an_npz(project):
    write_rows_npz(project / "rows.npz")
    config = write_config(
        project, "rows", {"dataset": "npz", "path": "rows.npz", "validation": 0.2}, "build_dense"
    )
    result = train(config)
    assert result.status == "completed"
    block = result.metrics["data"]
    assert (block["train_samples"], block["val_samples"], block["test_samples"]) == (38, 10, 12)
    assert block["num_classes"] == 3 and block["task"] == "classification" and block["input_shape"] == [4]
    assert block["feature_names"] == ["x0", "x1", "x2", "x3"]
    assert "stratified by class" in block["order"] and "stratified by class" in block["validation"]
    assert_every_split_has_every_class(block, ["0", "1", "2"])
    assert block["class_counts"]["test"] == {"0": 4, "1": 4, "2": 4}
    spec = json.loads((result.run_dir / "inference.json").read_text())
    assert spec["input"] == "table" and spec["table"]["features"] == ["x0", "x1", "x2", "x3"]

    with np.load(project / "rows.npz") as arrays:
        np.savez(project / "three.npz", x=arrays["x"][[0, 25, 59]])
    rows = predict_rows(result.run_dir, project / "three.npz")
    assert [row["input"] for row in rows] == ["three.npz[0]", "three.npz[1]", "three.npz[2]"]
    assert all(row["class"] in {"0", "1", "2"} for row in rows)


def test_npz_float_targets_are_a_regression(project):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    np.savez(project / "prices.npz", x=x, y=(2.0 * x[:, 0] + 10.0).astype(np.float32))
    config = write_config(project, "prices", {"dataset": "npz", "path": "prices.npz"}, "build_dense", REGRESS)
    result = train(config)
    assert result.status == "completed"
    block = result.metrics["data"]
    assert block["task"] == "regression" and block["num_classes"] is None
    assert block["task_from"].startswith("inferred") and "target_summary" in block
    assert (result.run_dir / "plots" / "predicted_vs_true.png").is_file()
    np.savez(project / "one.npz", x=x[:1])
    (row,) = predict_rows(result.run_dir, project / "one.npz")
    assert np.isfinite(float(row["value"]))


def test_mnist_layout_images_get_a_channel_axis_and_predict_from_a_png(project):
    from PIL import Image

    write_mnist_npz(project / "digits.npz")
    data = {"dataset": "npz", "path": "digits.npz", "validation": 0.2}
    result = train(write_config(project, "digits", data, "build_cnn"))
    assert result.status == "completed"
    block = result.metrics["data"]
    assert block["input_shape"] == [8, 8, 1] and block["num_classes"] == 2
    assert (block["train_samples"], block["val_samples"], block["test_samples"]) == (32, 8, 20)
    assert "blocks of one class" in block["order"]  # the class-by-class file was shuffled
    assert_every_split_has_every_class(block, ["0", "1"])
    assert (result.run_dir / "plots" / "confusion_matrix.png").is_file()
    assert (result.run_dir / "plots" / "predictions.png").is_file()

    with np.load(project / "digits.npz") as arrays:
        Image.fromarray(arrays["x_test"][-1]).save(project / "seven.png")
        np.savez(project / "two.npz", x=arrays["x_test"][:2])  # (N, H, W), as the file holds them
    rows = predict_rows(result.run_dir, project / "seven.png", project / "two.npz")
    assert [row["input"] for row in rows] == [str(project / "seven.png"), "two.npz[0]", "two.npz[1]"]


def test_npz_text_labels_and_class_names(tmp_path):
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    np.savez(tmp_path / "named.npz", x=x, y=np.repeat(["spam", "ham"], 10))
    data = load_dataset(DataConfig(dataset="npz", source="file", path=str(tmp_path / "named.npz")), seed=0)
    assert data.class_names == ["ham", "spam"] and data.extra["task"] == "classification"
    assert sorted(np.bincount(data.y_test).tolist()) == [2, 2]  # 0.2 of each class

    np.savez(tmp_path / "indexed.npz", x=x, y=np.repeat([0, 1], 10), class_names=np.array(["no", "yes"]))
    data = load_dataset(DataConfig(dataset="npz", source="file", path=str(tmp_path / "indexed.npz")), seed=0)
    assert data.class_names == ["no", "yes"]


# --------------------------------------------------------------------------- image folders


@pytest.mark.heavy
def test_a_folder_of_image_class_folders_streams_stratified_splits_and_predicts_a_jpg(project):
    write_pets(project / "pets")
    data = {"dataset": "image_folder", "path": "pets", "validation": 0.2, "image_size": 16}
    config = write_config(project, "pets", data, "build_cnn")
    result = dlab("run", str(config), "--quiet")
    assert result.exit_code == 0, result.output
    (run_dir,) = run_dirs(project)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    block = metrics["data"]
    assert (block["train_samples"], block["val_samples"], block["test_samples"]) == (15, 4, 5)
    assert block["num_classes"] == 2 and block["class_names"] == ["cat", "dog"]
    assert block["task"] == "classification" and block["input_shape"] == [16, 16, 3]
    assert block["pipeline"].startswith("tf.data")
    assert_every_split_has_every_class(block, ["cat", "dog"])
    assert (run_dir / "plots" / "confusion_matrix.png").is_file()
    assert (run_dir / "plots" / "predictions.png").is_file()

    rows = predict_rows(run_dir, project / "pets" / "dog" / "dog.3.jpg")
    assert rows[0]["class"] in {"cat", "dog"}


def test_an_image_tree_with_train_validation_test_folders(tmp_path):
    root = tmp_path / "tree"
    for folder, count in (("train", 6), ("validation", 3), ("test", 4)):
        write_pets(root, per_class=count, folder=folder, mode="L")  # grayscale PNGs
    config = DataConfig(dataset="image_folder", source="dir", path=str(root), validation="split")
    data = load_dataset(config, seed=0)
    assert data.sizes == {"train": 12, "val": 6, "test": 8}
    assert data.class_names == ["cat", "dog"]
    assert data.image_shape == (64, 64, 1)  # the default size; grayscale like the first image
    assert {split: sorted(np.bincount(labels).tolist()) for split, labels in data.split_labels.items()} == {
        "train": [6, 6],
        "val": [3, 3],
        "test": [4, 4],
    }
    images, labels = next(iter(data.batches("train", 12)))
    assert images.dtype == "uint8" and images.shape == (12, 64, 64, 1)
    assert labels.numpy().tolist() != sorted(labels.numpy().tolist())  # the classes are mixed

    with pytest.raises(ConfigError, match="not a count"):
        load_dataset(config.model_copy(update={"validation": 5}), seed=0)


# --------------------------------------------------------------------------- text folders


def test_an_aclimdb_tree_trains_on_training_words_only_and_predicts_raw_text(project):
    write_reviews(project / "aclImdb")
    data = {"dataset": "text_folder", "path": "aclImdb", "validation": 0.25, "num_words": 12, "maxlen": 16}
    result = train(write_config(project, "reviews", data, "build_text"))
    assert result.status == "completed"
    block = result.metrics["data"]
    assert (block["train_samples"], block["val_samples"], block["test_samples"]) == (18, 6, 24)
    assert block["num_classes"] == 2 and block["task"] == "classification"
    assert block["input_shape"] == [16] and block["num_words"] == 12
    assert block["notes"] == ["left out train/unsup/ (no labels)"]
    assert_every_split_has_every_class(block, ["neg", "pos"])
    vocabulary = (result.run_dir / "vocabulary.txt").read_text().split("\n")
    assert vocabulary[:2] == ["", "[UNK]"] and len([w for w in vocabulary if w]) == 11
    assert "zebra" not in vocabulary  # only the test documents have it
    spec = json.loads((result.run_dir / "inference.json").read_text())["text"]
    assert (spec["scheme"], spec["encoding"], spec["maxlen"]) == ("vectorizer", "sequence", 16)

    (project / "review.txt").write_text("A great, lovely movie. It's fun!\n")
    rows = predict_rows(
        result.run_dir, project / "review.txt", project / "aclImdb" / "test" / "neg" / "3_2.txt"
    )
    assert [row["input"] for row in rows] == ["review.txt:1", "3_2.txt:1"]
    assert all(row["class"] in {"neg", "pos"} for row in rows)


def test_a_folder_of_text_class_folders_is_encoded_as_predict_reads_raw_text(tmp_path):
    from dlab.data.modalities.text import pad
    from dlab.use.inputs import _vectorizer_index, word_ids

    root = tmp_path / "reviews"
    write_reviews(root, per_class=10, splits=("all",), unsup=False)
    root = root / "all"  # DIR/<class>/*.txt: no train/ and test/
    config = DataConfig(dataset="text_folder", source="dir", path=str(root), validation=0.25)
    data = load_dataset(config, seed=0)
    assert data.sizes == {"train": 12, "val": 4, "test": 4}
    assert np.bincount(data.y_test).tolist() == [2, 2] and np.bincount(data.y_val).tolist() == [2, 2]
    assert data.x_train.shape == (12, 200)  # data.maxlen's default
    index = _vectorizer_index(data.vocabulary)
    texts = [path.read_text() for path in sorted(root.glob("*/*.txt"))]  # not urls_all.txt
    by_predict = pad([word_ids(text, "vectorizer", index, len(data.vocabulary)) for text in texts], 200)
    by_training = np.concatenate([data.x_train, data.x_val, data.x_test])
    assert sorted(map(tuple, by_training.tolist())) == sorted(map(tuple, by_predict.tolist()))


# --------------------------------------------------------------------------- bad input


def test_a_missing_target_column_is_refused_with_a_suggestion(project):
    with open(project / "houses.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rooms", "area", "band"])
        writer.writerows([[3 + band, 50 + 20 * band + i, band] for band in range(3) for i in range(10)])
    config = write_config(
        project, "houses", {"dataset": "csv", "path": "houses.csv", "target": "bnad"}, "build_dense"
    )
    result = dlab("run", str(config))
    assert result.exit_code == 2, result.output
    assert "no column 'bnad'" in result.output and "Did you mean 'band'?" in result.output
    assert "Traceback" not in result.output and not run_dirs(project)


def test_an_npz_with_nan_is_refused_with_its_position(project):
    x = np.ones((20, 3), dtype=np.float32)
    x[7, 2] = np.nan
    np.savez(project / "holes.npz", x=x, y=np.repeat([0, 1], 10))
    result = dlab(
        "run", str(write_config(project, "holes", {"dataset": "npz", "path": "holes.npz"}, "build_dense"))
    )
    assert result.exit_code == 2, result.output
    assert "holes.npz: x[7, 2] is nan" in result.output
    assert "Traceback" not in result.output and not run_dirs(project)


class _Opens:
    """Unpickling this would open (create) a file: what a crafted pickle could do."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return open, (str(self.target), "w")


def test_an_npz_of_pickled_objects_is_refused_without_running_the_pickle(tmp_path):
    marker = tmp_path / "pickle-ran"
    objects = np.empty(2, dtype=object)
    objects[:] = [_Opens(marker), _Opens(marker)]
    np.savez(tmp_path / "objects.npz", x=objects, y=np.array([0, 1]))
    pickle.loads(pickle.dumps(1))  # (pickle works here: the refusal is dlab's)
    with pytest.raises(DataError, match=r"'x' holds Python objects \(dtype=object\)") as error:
        load_dataset(DataConfig(dataset="npz", source="file", path=str(tmp_path / "objects.npz")), seed=0)
    assert "pickle" in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0, 1, -1, 1] * 5), r"y\[2\] is -1; class labels must be whole numbers"),
        (np.array([0.0, 1.0, 1.5, 0.0] * 5), r"y\[2\] is 1.5"),
    ],
)
def test_class_labels_must_be_whole_and_non_negative(tmp_path, labels, message):
    np.savez(tmp_path / "bad.npz", x=np.zeros((20, 2), np.float32), y=labels)
    config = DataConfig(dataset="npz", source="file", path=str(tmp_path / "bad.npz"), task="classification")
    with pytest.raises(DataError, match=message):
        load_dataset(config, seed=0)


def test_an_empty_class_folder_is_refused(project):
    write_pets(project / "pets", classes=("cat",))
    (project / "pets" / "dog").mkdir()
    config = write_config(project, "pets", {"dataset": "image_folder", "path": "pets"}, "build_cnn")
    result = dlab("run", str(config))
    assert result.exit_code == 2, result.output
    assert "pets/dog hold no images" in result.output.replace("\n", "")
    assert not run_dirs(project)

    (project / "reviews" / "pos").mkdir(parents=True)
    (project / "reviews" / "neg").mkdir()
    (project / "reviews" / "pos" / "0_9.txt").write_text("Great.")
    config = DataConfig(dataset="text_folder", source="dir", path=str(project / "reviews"))
    with pytest.raises(DataError, match=r"reviews/neg hold no \.txt files"):
        load_dataset(config, seed=0)
    (project / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .txt files in class folders"):
        load_dataset(config.model_copy(update={"path": str(project / "empty")}), seed=0)


def test_a_builder_whose_output_does_not_fit_the_classes_is_refused_before_the_run(project):
    write_rows_npz(project / "rows.npz", classes=3)
    config = write_config(project, "rows", {"dataset": "npz", "path": "rows.npz"}, "build_two_outputs")
    result = dlab("run", str(config))
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "models.build_two_outputs outputs 2 value(s) per example" in message and "3 classes" in message
    assert not run_dirs(project)


def test_smoke_keeps_your_own_files(project):
    for dataset in ("npz", "image_folder", "text_folder"):
        config = write_config(project, dataset, {"dataset": dataset, "path": "mine"}, "build_dense")
        resolved = resolve_config(str(config), smoke=True)
        assert (resolved.data.source, resolved.data.path) == ("file", "mine")
        assert resolved.data.train_samples and resolved.experiment == "builder"
