"""The files keras.datasets keeps in its cache, read by data.source=file/dir exactly as Keras does.

Every identity test writes a small file in the real on-disk layout, runs the real Keras
loader on it with only its download function (``get_file``) replaced so that it returns
that file (Keras checks a hash, so a hand-made file in the cache would be downloaded
again), and compares the arrays with what dlab reads from the same bytes.
"""

from __future__ import annotations

import gzip
import json
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from dlab.config import DataConfig
from dlab.data import load_dataset

RNG = np.random.default_rng(7)


def serve(monkeypatch, module: str, folder: Path) -> list[dict]:
    """Replace ``keras.src.datasets.<module>.get_file``: it returns ``folder/<fname>``."""
    import importlib

    calls: list[dict] = []

    def get_file(fname=None, origin=None, **options):
        calls.append({"fname": fname, "origin": origin, **options})
        return str(folder / fname)

    monkeypatch.setattr(importlib.import_module(f"keras.src.datasets.{module}"), "get_file", get_file)
    return calls


def ragged(n: int, top: int = 300) -> np.ndarray:
    documents = np.empty(n, dtype=object)
    documents[:] = [RNG.integers(1, top, size=RNG.integers(3, 40)).tolist() for _ in range(n)]
    return documents


def same_documents(a, b) -> bool:
    return len(a) == len(b) and all(list(x) == list(y) for x, y in zip(a, b, strict=True))


def write_reuters(path: Path, n: int = 80) -> Path:
    np.savez(path, x=ragged(n), y=RNG.integers(0, 46, n))
    return path


def write_imdb(folder: Path, n_train: int = 60, n_test: int = 40) -> Path:
    """imdb.npz as Keras downloads it: raw word ranks, labels sorted by class, plus the word index."""
    np.savez(
        folder / "imdb.npz",
        x_train=ragged(n_train),
        y_train=np.repeat([0, 1], n_train // 2),
        x_test=ragged(n_test),
        y_test=np.repeat([0, 1], n_test // 2),
    )
    words = {f"word{rank}": rank for rank in range(1, 300)}
    (folder / "imdb_word_index.json").write_text(json.dumps(words))
    return folder / "imdb.npz"


# --------------------------------------------------------------------------- identity with Keras


@pytest.mark.parametrize("num_words", [None, 120])
def test_reuters_npz_gives_the_arrays_keras_gives(tmp_path, monkeypatch, num_words):
    import keras

    path = write_reuters(tmp_path / "reuters.npz")
    from dlab.data.datasets.reuters import SPEC

    calls = serve(monkeypatch, "reuters", tmp_path)
    # dlab asks Keras for the whole vocabulary when data.num_words is not set
    (kx_train, ky_train), (kx_test, ky_test) = keras.datasets.reuters.load_data(
        num_words=num_words or SPEC.vocabulary_size
    )
    assert calls[0]["fname"] == "reuters.npz"
    config = DataConfig(dataset="reuters", source="file", path=str(path), num_words=num_words)
    data = load_dataset(config, seed=0)
    assert same_documents(data.x_train, kx_train) and same_documents(data.x_test, kx_test)
    assert np.array_equal(data.y_train, ky_train) and np.array_equal(data.y_test, ky_test)
    assert (len(data.x_train), len(data.x_test)) == (64, 16)  # int(80 * 0.8) as Keras cuts
    assert "seed 113" in data.describe()["layout"] and "113" in data.describe()["order"]
    # and the keras source (dlab's own call into Keras) gives the same data as the file
    via_keras = load_dataset(config.model_copy(update={"source": "keras", "path": None}), seed=0)
    assert same_documents(via_keras.x_train, data.x_train)
    assert np.array_equal(via_keras.y_test, data.y_test)


def test_imdb_npz_and_its_word_index_give_what_keras_gives(tmp_path, monkeypatch):
    import keras

    path = write_imdb(tmp_path)
    serve(monkeypatch, "imdb", tmp_path)
    (kx_train, ky_train), (kx_test, ky_test) = keras.datasets.imdb.load_data(num_words=200)
    data = load_dataset(DataConfig(dataset="imdb", source="file", path=str(path), num_words=200), seed=5)
    assert same_documents(data.x_train, kx_train) and same_documents(data.x_test, kx_test)
    assert np.array_equal(data.y_train, ky_train) and np.array_equal(data.y_test, ky_test)
    assert all(doc[0] == 1 for doc in data.x_train)  # start_char
    assert data.y_train[:30].tolist() != [0] * 30  # the class-sorted file is mixed (seed 113)
    word_index = keras.datasets.imdb.get_word_index()
    assert data.vocabulary[word_index["word7"] + 3] == "word7"  # index_from 3


def test_boston_npz_gives_the_split_keras_gives(tmp_path, monkeypatch):
    import keras

    x, y = RNG.normal(size=(50, 13)) * 10, RNG.uniform(5, 50, 50)
    np.savez(tmp_path / "boston_housing.npz", x=x, y=y)
    serve(monkeypatch, "boston_housing", tmp_path)
    (kx_train, ky_train), (kx_test, ky_test) = keras.datasets.boston_housing.load_data()
    data = load_dataset(
        DataConfig(dataset="boston_housing", source="file", path=str(tmp_path / "boston_housing.npz")), seed=0
    )
    np.testing.assert_array_equal(data.x_train, kx_train.astype(np.float32))
    np.testing.assert_array_equal(data.y_test, ky_test.astype(np.float32))
    assert (len(data.x_train), len(data.x_test)) == (40, 10)


def test_mnist_npz_is_read_as_keras_reads_it(tmp_path, monkeypatch):
    import keras

    np.savez(
        tmp_path / "mnist.npz",
        x_train=RNG.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        y_train=RNG.integers(0, 10, 30).astype(np.uint8),
        x_test=RNG.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        y_test=RNG.integers(0, 10, 10).astype(np.uint8),
    )
    serve(monkeypatch, "mnist", tmp_path)
    (kx_train, ky_train), _ = keras.datasets.mnist.load_data()
    data = load_dataset(DataConfig(dataset="mnist", source="file", path=str(tmp_path / "mnist.npz")), seed=0)
    np.testing.assert_array_equal(data.x_train[..., 0], kx_train)
    np.testing.assert_array_equal(data.y_train, ky_train)
    assert data.describe()["order"].startswith("the file's order")


def write_idx(folder: Path, n_train: int = 24, n_test: int = 12) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = RNG.integers(0, 10, n, dtype=np.uint8)
        images = RNG.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz", "wb") as handle:
            handle.write(struct.pack(">ii", 2049, n) + labels.tobytes())
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz", "wb") as handle:
            handle.write(struct.pack(">iiii", 2051, n, 28, 28) + images.tobytes())
    return folder


def test_fashion_mnist_idx_files_are_read_as_keras_reads_them(tmp_path, monkeypatch):
    import keras

    folder = write_idx(tmp_path / "fashion-mnist")
    calls = serve(monkeypatch, "fashion_mnist", folder)
    (kx_train, ky_train), (kx_test, ky_test) = keras.datasets.fashion_mnist.load_data()
    assert calls[0]["cache_subdir"].endswith("fashion-mnist")
    data = load_dataset(DataConfig(dataset="fashion_mnist", source="dir", path=str(folder)), seed=0)
    np.testing.assert_array_equal(data.x_train[..., 0], kx_train)
    np.testing.assert_array_equal(data.y_test, ky_test)
    assert data.x_train.shape == (24, 28, 28, 1) and "idx" in data.describe()["layout"]


def cifar_batch(n: int, label: str = "training batch") -> dict:
    """A batch in the documented format: uint8 rows of 3072 (R, G, B planes), a list of labels."""
    return {
        b"batch_label": label.encode(),
        b"labels": RNG.integers(0, 10, n).tolist(),
        b"data": RNG.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def write_cifar(folder: Path, n: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as handle:
            pickle.dump(cifar_batch(n), handle, protocol=4)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": [b"airplane"] * 10, b"num_cases_per_batch": n}, handle)
    return folder


def test_cifar_batches_are_read_batch_by_batch_as_keras_reads_them(tmp_path):
    from keras.src.datasets.cifar import load_batch

    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    data = load_dataset(DataConfig(dataset="cifar10", source="dir", path=str(folder.parent)), seed=0)
    expected = [load_batch(str(folder / f"data_batch_{i}")) for i in range(1, 6)]
    x = np.concatenate([x for x, _ in expected]).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(data.x_train, x)
    np.testing.assert_array_equal(data.y_train[:, 0], np.concatenate([y for _, y in expected]))
    x_test, y_test = load_batch(str(folder / "test_batch"))
    np.testing.assert_array_equal(data.x_test, x_test.transpose(0, 2, 3, 1))
    assert data.y_test.shape == (6, 1) and data.y_test.dtype == np.uint8
    # the archive as downloaded gives the same arrays, read in memory
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    from_archive = load_dataset(DataConfig(dataset="cifar10", source="file", path=str(archive)), seed=0)
    np.testing.assert_array_equal(from_archive.x_train, data.x_train)
    np.testing.assert_array_equal(from_archive.y_test, data.y_test)


@pytest.mark.heavy
def test_full_size_cifar_batches_equal_keras_cifar10_load_data(tmp_path, monkeypatch):
    """Keras's loader wants 10,000 images per batch: 180 MB of batches, read by both."""
    import keras

    target = tmp_path / "cifar-10-batches-py-target"
    write_cifar(target / "cifar-10-batches-py", n=10_000)
    serve(monkeypatch, "cifar10", tmp_path)
    (kx_train, ky_train), (kx_test, ky_test) = keras.datasets.cifar10.load_data()
    data = load_dataset(DataConfig(dataset="cifar10", source="dir", path=str(target)), seed=0)
    for ours, theirs in (
        (data.x_train, kx_train),
        (data.y_train, ky_train),
        (data.x_test, kx_test),
        (data.y_test, ky_test),
    ):
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_the_cache_table_has_the_hashes_keras_checks(monkeypatch):
    """Every file and hash in dlab's table is what the installed Keras loader asks get_file for."""
    import importlib

    from dlab.data.formats.keras_cache import CACHE_FILES

    class Asked(Exception):
        pass

    asked = {}

    def get_file(fname=None, origin=None, file_hash=None, **options):
        asked[fname] = file_hash
        raise Asked

    for module, calls in (
        ("mnist", ["load_data"]),
        ("imdb", ["load_data", "get_word_index"]),
        ("reuters", ["load_data", "get_word_index"]),
        ("boston_housing", ["load_data"]),
        ("cifar10", ["load_data"]),
    ):
        keras_module = importlib.import_module(f"keras.src.datasets.{module}")
        monkeypatch.setattr(keras_module, "get_file", get_file)
        for call in calls:
            with pytest.raises(Asked):
                getattr(keras_module, call)()
    table = {entry.name: entry.file_hash for entry in CACHE_FILES if entry.file_hash}
    assert asked.pop("cifar-10-batches-py-target") == table.pop("cifar-10-batches-py-target_archive")
    assert {name: table[name] for name in asked} == asked


# --------------------------------------------------------------------------- bad files


def test_reuters_x_and_y_of_different_lengths(cli, tmp_path):
    np.savez(tmp_path / "reuters.npz", x=ragged(30), y=RNG.integers(0, 46, 29))
    result = cli(
        "run", "mlp-reuters", "--set", "data.source=file", "--set", f"data.path={tmp_path / 'reuters.npz'}"
    )
    assert result.exit_code == 2, result.output
    assert "'x' has 30 rows but 'y' has 29" in result.output and "reuters.npz" in result.output
    assert "Traceback" not in result.output and not list(tmp_path.glob("outputs/*/*"))


def test_boston_x_and_y_of_different_lengths(cli, tmp_path):
    np.savez(tmp_path / "boston_housing.npz", x=np.zeros((20, 13)), y=np.zeros(18))
    result = cli(
        "run",
        "kfold-boston",
        "--set",
        "data.source=file",
        "--set",
        f"data.path={tmp_path / 'boston_housing.npz'}",
    )
    assert result.exit_code == 2, result.output
    assert "'x' has 20 rows but 'y' has 18" in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


def test_a_cifar_folder_missing_a_batch(cli, tmp_path):
    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    (folder / "data_batch_3").unlink()
    result = cli("run", "cnn-cifar10", "--set", "data.source=dir", "--set", f"data.path={folder}")
    assert result.exit_code == 2, result.output
    assert "lacks data_batch_3" in result.output and "Traceback" not in result.output
    assert not list(tmp_path.glob("outputs/*/*"))


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize(
    "content, expected",
    [
        ({b"data": Payload(), b"labels": [1]}, "refusing to load builtins.print"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": {1}}, "'labels' is a set"),
        ([1, 2, 3], "holds a list, not the dict"),
    ],
)
def test_a_cifar_batch_that_is_not_plain_arrays_and_lists(cli, tmp_path, capsys, content, expected):
    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    with open(folder / "data_batch_2", "wb") as handle:
        pickle.dump(content, handle, protocol=4)
    result = cli("run", "cnn-cifar10", "--set", "data.source=dir", "--set", f"data.path={folder}")
    assert result.exit_code == 2, result.output
    assert expected in result.output and "data_batch_2" in result.output
    assert "must never run" not in result.output + capsys.readouterr().out


def test_an_idx_file_with_a_wrong_header(tmp_path):
    from dlab.errors import DataError

    folder = write_idx(tmp_path / "fashion")
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as handle:
        handle.write(struct.pack(">iiii", 2049, 12, 28, 28) + bytes(12 * 784))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz is not an idx images file"):
        load_dataset(DataConfig(dataset="fashion_mnist", source="dir", path=str(folder)), seed=0)


# --------------------------------------------------------------------------- dlab data import / info


def test_import_refuses_a_file_with_another_hash(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    path = write_reuters(tmp_path / "reuters.npz")
    result = cli("data", "import", "reuters", str(path))
    assert result.exit_code == 2, result.output
    assert "Keras expects d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916" in result.output
    from dlab.data.formats.keras_cache import file_hash

    assert f"its sha256 is {file_hash(path, 'sha256')}" in result.output
    assert not (tmp_path / "keras").exists()


def test_import_puts_the_file_where_keras_finds_it_offline(cli, tmp_path, monkeypatch):
    """With the expected hash made the hand-made file's, Keras's real get_file finds the import
    in the cache and does not download (there is no network here)."""
    from dataclasses import replace

    import keras

    from dlab.data.formats import keras_cache

    path = write_imdb(tmp_path)
    digest = keras_cache.file_hash(path, "sha256")
    table = tuple(
        replace(e, file_hash=digest) if e.name == "imdb.npz" else e
        for e in keras_cache.CACHE_FILES
        if e.name != "imdb_word_index.json"
    )
    monkeypatch.setattr(keras_cache, "CACHE_FILES", table)
    cache = tmp_path / "keras-home" / "datasets"
    result = cli("data", "import", "imdb", str(path), "--cache-dir", str(cache))
    assert result.exit_code == 0, result.output
    assert (cache / "imdb.npz").read_bytes() == path.read_bytes()
    found = keras.utils.get_file(
        "imdb.npz", origin="https://example.invalid/imdb.npz", file_hash=digest, cache_dir=str(cache.parent)
    )
    assert Path(found) == cache / "imdb.npz"


def test_import_of_fashion_mnist_checks_the_idx_files(cli, tmp_path):
    folder = write_idx(tmp_path / "downloads")
    cache = tmp_path / "cache"
    result = cli("data", "import", "fashion_mnist", str(folder), "--cache-dir", str(cache))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (cache / "fashion-mnist").iterdir()) == sorted(
        p.name for p in folder.iterdir()
    )
    assert "Keras checks none" in result.output


def test_import_of_an_unknown_dataset(cli, tmp_path):
    result = cli("data", "import", "reuter", str(tmp_path))
    assert result.exit_code == 2 and "Did you mean 'reuters'" in result.output


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda tmp: write_reuters(tmp / "reuters.npz"), "reuters.npz as Keras downloads it"),
        (lambda tmp: write_imdb(tmp), "raw word ranks, as imdb.npz is downloaded"),
        (lambda tmp: write_cifar(tmp / "cifar-10-batches-py").parent, "CIFAR-10's python batches"),
        (lambda tmp: write_idx(tmp / "fm"), "the four idx .gz files"),
    ],
)
def test_data_info_names_the_layout(cli, tmp_path, make, expected):
    result = cli("data", "info", str(make(tmp_path)))
    assert result.exit_code == 0, result.output
    assert expected in result.output


def test_data_info_recognizes_keras_own_file_by_its_hash(cli, tmp_path, monkeypatch):
    from dataclasses import replace

    from dlab.data.formats import keras_cache

    path = write_reuters(tmp_path / "copy.npz")
    digest = keras_cache.file_hash(path, "sha256")
    monkeypatch.setattr(
        keras_cache,
        "CACHE_FILES",
        tuple(
            replace(e, file_hash=digest) if e.name == "reuters.npz" else e for e in keras_cache.CACHE_FILES
        ),
    )
    result = cli("data", "info", str(path))
    assert "yes: reuters.npz of reuters (sha256 matches)" in result.output
