"""``dlab data info PATH``: which on-disk layout a file or folder is, and how dlab reads it.

Only headers, names and (for ragged text arrays) the arrays themselves are read; nothing
is decoded into images and no TensorFlow is started. The answer names the layout, the
datasets and source that read it, how the examples are ordered and split, and whether
the file is byte for byte the one Keras downloads (its hash).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from dlab.data.formats import keras_cache
from dlab.data.formats.keras_files import starts_encoded
from dlab.data.formats.keras_images import find_cifar_folder, is_idx_folder
from dlab.data.formats.npz_text import read_npz_safely
from dlab.errors import DataError
from dlab.fileio import file_hash

_ORDER_113 = "permuted with np.random.RandomState(113), as keras.datasets does"


def describe(path: Path) -> dict[str, str]:
    """What dlab recognizes at ``path``, as ordered (label, text) pairs.

    Raises:
        DataError: the path does not exist.
    """
    path = path.expanduser()
    if not path.exists():
        raise DataError(f"'{path}' does not exist.")
    info = {"path": str(path)}
    info.update(_describe_dir(path) if path.is_dir() else _describe_file(path))
    if path.is_file():
        info["keras file"] = _keras_identity(path)
    return info


def _describe_dir(path: Path) -> dict[str, str]:
    cifar = find_cifar_folder(path)
    if cifar is not None:
        return {
            "layout": f"CIFAR-10's python batches ({cifar.name}/), as Keras extracts them",
            "read with": "data.dataset=cifar10 data.source=dir",
            "order": "as published: batches 1..5, then the test batch (not by class)",
        }
    if is_idx_folder(path):
        return {
            "layout": "the four idx .gz files of Fashion-MNIST (MNIST's originals share the names)",
            "read with": "data.dataset=fashion_mnist (or mnist) data.source=dir",
            "order": "as published (not by class)",
        }
    if (path / "train" / "pos").is_dir() or (path / "train" / "neg").is_dir():
        return {
            "layout": "an aclImdb review tree (train/ and test/, pos/ and neg/)",
            "read with": "data.dataset=imdb data.source=dir",
            "order": f"read class by class, then {_ORDER_113}",
        }
    if (path / "images").is_dir():
        return {
            "layout": "images/ with masks/ or annotations/trimaps/ (segmentation)",
            "read with": "data.dataset=oxford_pets data.source=dir",
        }
    splits = [name for name in ("train", "validation", "test") if (path / name).is_dir()]
    if "train" in splits:
        classes = sorted(p.name for p in (path / "train").iterdir() if p.is_dir())
        return {
            "layout": f"a class-folder tree ({', '.join(f'{s}/' for s in splits)}; classes: "
            f"{', '.join(classes) or 'none'})",
            "read with": "data.source=dir (image datasets, dogs_vs_cats, image_folders)",
            "order": "the file lists permuted with the run's seed; a validation fraction is "
            "stratified by class",
        }
    return {
        "layout": "not a folder layout dlab reads (expected CIFAR-10 batches, idx files, an "
        "aclImdb tree, a class-folder tree or images/ + masks/)"
    }


def _describe_file(path: Path) -> dict[str, str]:
    if zipfile.is_zipfile(path):
        return _describe_zip(path)
    if tarfile.is_tarfile(path):
        with tarfile.open(path, "r:*") as archive:
            names = archive.getnames()
        if any(name.endswith("data_batch_1") for name in names):
            return {
                "layout": "CIFAR-10's python archive (cifar-10-python.tar.gz)",
                "read with": "data.dataset=cifar10 data.source=file (read in memory, not extracted)",
                "order": "as published: batches 1..5, then the test batch",
            }
        return {"layout": f"a tar archive ({len(names)} members) that is not CIFAR-10's"}
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith("ubyte.gz") or "idx" in path.name:
        return {
            "layout": "one idx .gz file",
            "read with": "data.source=dir on the folder holding all four (train/t10k images and labels)",
        }
    if suffixes.endswith((".csv", ".csv.gz")):
        return {
            "layout": "a CSV table",
            "read with": "data.source=file (with data.target for tables; HIGGS and Jena have fixed columns)",
            "order": "the rows permuted with the run's seed before any split (Jena: time order)",
        }
    return {"layout": "a file dlab reads as plain text (timemachine, cbow) if it is UTF-8"}


def _describe_zip(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        members = archive.namelist()
        headers = {m[:-4]: _npy_header(archive, m) for m in members if m.endswith(".npy")}
    if not headers:
        csv = [m for m in members if m.endswith(".csv")]
        return {
            "layout": f"a zip archive holding {', '.join(csv) or 'no CSV'}",
            "read with": "data.dataset=jena data.source=file" if csv else "-",
        }
    keys = ", ".join(f"{key} {dtype} {shape}" for key, (shape, dtype) in headers.items())
    if {"x", "y"} <= set(headers) and "x_train" not in headers:
        text = headers["x"][1] == "object"
        return {
            "layout": f"x and y ({keys}): {'reuters.npz' if text else 'boston_housing.npz'} "
            "as Keras downloads it",
            "read with": f"data.dataset={'reuters' if text else 'boston_housing'} data.source=file",
            "order": f"{_ORDER_113}; the last data.test_split (0.2) is the test split",
        }
    if {"x_train", "y_train", "x_test", "y_test"} <= set(headers):
        return {
            "layout": f"x_train ... y_test ({keys}): {_split_npz_kind(path, headers)}",
            "read with": "data.source=file",
        }
    return {"layout": f"an .npz with {keys}: neither Keras layout (x and y, or x_train ... y_test)"}


def _npy_header(archive: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], str]:
    with archive.open(member) as raw:
        handle = io.BytesIO(raw.read(4096))
    version = np.lib.format.read_magic(handle)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(handle)
    return tuple(shape), "object" if dtype.hasobject else str(dtype)


def _split_npz_kind(path: Path, headers: dict) -> str:
    shape, dtype = headers["x_train"]
    if dtype != "object":
        if len(shape) >= 3:
            return (
                "images, as mnist.npz (or what a Keras image loader returns); kept in the "
                "file's order unless its labels come class by class (then shuffled with the seed)"
            )
        return "a table (boston_housing with x_train ... y_test)"

    arrays = read_npz_safely(path)
    if starts_encoded(arrays["x_train"]) and starts_encoded(arrays["x_test"]):
        return (
            "word-index documents already encoded (each starts with 1), as load_data() "
            "returns them (imdb or reuters)"
        )
    return (
        f"raw word ranks, as imdb.npz is downloaded: {_ORDER_113}, then start_char 1, "
        "oov_char 2, index_from 3 (data.dataset=imdb)"
    )


def _keras_identity(path: Path) -> str:
    hashed = [entry for entry in keras_cache.CACHE_FILES if entry.file_hash]  # read now: tests replace it
    algorithms = {entry.algorithm for entry in hashed}
    digests = {algorithm: file_hash(path, algorithm) for algorithm in algorithms}
    for entry in hashed:
        if digests[entry.algorithm] == entry.file_hash:
            return (
                f"yes: {entry.name} of {entry.dataset} ({entry.algorithm} matches); "
                f"`dlab data import {entry.dataset} {path}` puts it in the Keras cache"
            )
    return f"no known Keras download has its hash (sha256 {digests['sha256'][:16]}...)"
