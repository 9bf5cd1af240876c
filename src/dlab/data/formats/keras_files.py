"""The .npz files ``keras.datasets`` keeps in ``~/.keras/datasets``, read as Keras reads them.

``data.source=file`` accepts exactly what the Keras loaders leave in their cache, and
returns the arrays the loader returns for the same bytes:

- ``imdb.npz``: ``x_train`` ... ``y_test`` holding raw word ranks (1 = the most frequent
  word). Keras permutes train, then test, with one ``RandomState(113)``, then adds
  ``start_char=1`` and ``index_from=3`` and turns ranks at or past ``num_words`` into
  ``oov_char=2`` (:func:`keras_sequences`).
- ``reuters.npz``: ``x`` and ``y``; permuted with ``RandomState(113)``, encoded the same
  way, the last ``test_split`` (0.2) held out.
- ``boston_housing.npz``: ``x`` and ``y``; permuted with ``RandomState(113)``, the last
  ``test_split`` held out.
- ``mnist.npz``: ``x_train`` ... ``y_test`` as they are (:mod:`dlab.data.modalities.images`).

A text .npz whose documents all start with 1 holds what ``load_data()`` returns
(already encoded) and is read as it is; ``imdb_word_index.json`` /
``reuters_word_index.json`` next to the file decode documents for predictions.txt.
CIFAR-10's batches and Fashion-MNIST's idx files are in :mod:`dlab.data.formats.keras_images`.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlab.data.checks.splits import keras_permutation, keras_train_count, shuffle_if_grouped
from dlab.data.checks.values import check_labels
from dlab.data.formats.npz import open_npz
from dlab.data.formats.npz_text import check_word_indices, read_npz_safely
from dlab.errors import DataError

SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")
XY_KEYS = ("x", "y")
START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3
KERAS_ORDER = "Keras's order: permuted with np.random.RandomState(113), as keras.datasets does"


@dataclass
class Loaded:
    """Arrays read from a file, and what dlab recognized in it (recorded in metrics.json)."""

    train: tuple[Any, Any]
    test: tuple[Any, Any]
    layout: str
    order: str
    vocabulary: list[str] | None = None


def npz_keys(path: Path) -> list[str]:
    """The array names in an .npz, without reading any array.

    Raises:
        DataError: not a zip archive.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return [m[:-4] for m in archive.namelist() if m.endswith(".npy")]
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"Cannot read {path} as an .npz file ({error}).") from None


def check_same_length(path: Path, x: Any, y: Any, what: str = "x", label: str = "y") -> None:
    """Refuse ``x`` and ``y`` of different lengths, naming the file and both lengths."""
    if len(x) != len(y):
        raise DataError(
            f"{path}: '{what}' has {len(x)} rows but '{label}' has {len(y)}; the "
            f"Keras layout holds one {label} per row of {what}. The file is "
            "truncated or was written from different arrays: download or write it "
            "again."
        )


# --------------------------------------------------------------------------- text (IMDB, Reuters)


def keras_sequences(
    documents: Any,
    num_words: int | None = None,
    skip_top: int = 0,
    start_char: int | None = START_CHAR,
    oov_char: int | None = OOV_CHAR,
    index_from: int = INDEX_FROM,
) -> np.ndarray:
    """Encode raw word-rank lists exactly as ``keras.datasets.imdb/reuters.load_data`` do.

    Vectorized over all words at once: shift by ``index_from``, prepend ``start_char``,
    then every index outside ``[skip_top, num_words)`` becomes ``oov_char`` (or is
    dropped when ``oov_char`` is None). ``num_words=None`` means Keras's
    ``max(max(x) for x in xs)`` (which, as in Keras, turns that largest index into OOV).

    Returns:
        A 1-D object array of lists of ints, one per document.
    """
    lengths = np.fromiter((len(d) for d in documents), dtype=np.int64, count=len(documents))
    flat = (
        np.concatenate([np.asarray(d, dtype=np.int64) for d in documents])
        if len(documents)
        else np.zeros(0, np.int64)
    )
    if start_char is not None or index_from:
        flat = flat + index_from
    if start_char is not None:
        out = np.empty(len(flat) + len(lengths), dtype=np.int64)
        starts = np.cumsum(lengths + 1) - (lengths + 1)
        is_start = np.zeros(len(out), dtype=bool)
        is_start[starts] = True
        out[is_start], out[~is_start] = start_char, flat
        flat, lengths = out, lengths + 1
    if not num_words:
        num_words = int(flat.max()) if flat.size else 0
    keep = (flat >= skip_top) & (flat < num_words)
    if oov_char is not None:
        flat = np.where(keep, flat, oov_char)
    else:
        owner = np.repeat(np.arange(len(lengths)), lengths)
        flat, lengths = flat[keep], np.bincount(owner[keep], minlength=len(lengths))
    sequences = np.empty(len(lengths), dtype=object)
    sequences[:] = [part.tolist() for part in np.split(flat, np.cumsum(lengths)[:-1])] if len(lengths) else []
    return sequences


def imdb_from_raw(
    arrays: dict[str, Any], num_words: int | None = None, **encoding: Any
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """``keras.datasets.imdb.load_data`` on the arrays of imdb.npz (seed 113, no maxlen)."""
    rng = np.random.RandomState(encoding.pop("seed", 113))
    train = keras_permutation(len(arrays["x_train"]), rng)
    test = keras_permutation(len(arrays["x_test"]), rng)
    x_train, y_train = arrays["x_train"][train], arrays["y_train"][train]
    x_test, y_test = arrays["x_test"][test], arrays["y_test"][test]
    documents = np.empty(len(x_train) + len(x_test), dtype=object)
    documents[:] = [*x_train, *x_test]
    encoded = keras_sequences(documents, num_words, **encoding)
    labels = np.concatenate([y_train, y_test])
    cut = len(x_train)
    return (encoded[:cut], labels[:cut]), (encoded[cut:], labels[cut:])


def reuters_from_raw(
    x: Any, y: Any, num_words: int | None = None, test_split: float = 0.2, **encoding: Any
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """``keras.datasets.reuters.load_data`` on the arrays of reuters.npz (seed 113, no maxlen)."""
    order = keras_permutation(len(x), np.random.RandomState(encoding.pop("seed", 113)))
    encoded = keras_sequences(x[order], num_words, **encoding)
    labels = np.asarray(y)[order]
    cut = keras_train_count(len(encoded), test_split)
    return (encoded[:cut], np.array(labels[:cut])), (encoded[cut:], np.array(labels[cut:]))


def starts_encoded(documents: Any) -> bool:
    """True when every non-empty document starts with start_char: load_data()'s output."""
    return all(len(d) == 0 or d[0] == START_CHAR for d in documents)


def read_text_npz(spec: Any, path: Path, num_words: int, test_split: float, seed: int) -> Loaded:
    """An IMDB/Reuters .npz in any layout Keras writes or returns, split as Keras splits it.

    Raises:
        DataError: missing arrays, x and y of different lengths, an unsafe pickle,
            word indices past ``num_words`` in an already encoded file.
    """
    arrays = read_npz_safely(path)
    vocabulary = word_index_vocabulary(path.parent / f"{spec.name}_word_index.json")
    if all(key in arrays for key in XY_KEYS) and not any(key in arrays for key in SPLIT_KEYS):
        x, y = arrays["x"], arrays["y"]
        check_same_length(path, x, y)
        train, test = reuters_from_raw(x, y, num_words, test_split)
        return Loaded(
            train,
            test,
            f"{path.name}: x and y, as keras.datasets.reuters keeps them "
            f"(permuted with seed 113, the last {test_split:g} held out, start_char 1, "
            "oov_char 2, index_from 3)",
            KERAS_ORDER,
            vocabulary,
        )
    missing = [key for key in SPLIT_KEYS if key not in arrays]
    if missing:
        raise DataError(
            f"{path} lacks the arrays {', '.join(missing)}; it has "
            f"{', '.join(arrays) or 'none'}. A {spec.name} .npz holds x_train, "
            "y_train, x_test, y_test (imdb.npz as Keras downloads it, or what "
            "load_data() returns), or x and y (reuters.npz as Keras downloads it)."
        )
    for split in ("train", "test"):
        check_same_length(path, arrays[f"x_{split}"], arrays[f"y_{split}"], f"x_{split}", f"y_{split}")
    if starts_encoded(arrays["x_train"]) and starts_encoded(arrays["x_test"]):
        return _encoded(spec, path, arrays, num_words, seed, vocabulary)
    train, test = imdb_from_raw(arrays, num_words)
    return Loaded(
        train,
        test,
        f"{path.name}: raw word ranks in x_train ... y_test, as "
        "keras.datasets.imdb keeps them (permuted with seed 113, start_char 1, "
        "oov_char 2, index_from 3)",
        KERAS_ORDER,
        vocabulary,
    )


def _encoded(
    spec: Any,
    path: Path,
    arrays: dict[str, Any],
    num_words: int,
    seed: int,
    vocabulary: list[str] | None,
) -> Loaded:
    notes = []
    splits = {}
    for split in ("train", "test"):
        check_same_length(path, arrays[f"x_{split}"], arrays[f"y_{split}"], f"x_{split}", f"y_{split}")
        check_labels(path, f"y_{split}", arrays[f"y_{split}"])  # before the cast to int64 below
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"].astype(np.int64)
        check_word_indices(path, split, x, num_words)
        x, y, note = shuffle_if_grouped(x, y, seed + (split == "test"), split)
        splits[split] = (x, y)
        notes += [note] if note else []
    return Loaded(
        splits["train"],
        splits["test"],
        f"{path.name}: documents already encoded (every one starts with 1), as load_data() returns them",
        "; ".join(notes) or "the file's order",
        vocabulary,
    )


def word_index_vocabulary(path: Path, index_from: int = INDEX_FROM) -> list[str] | None:
    """index -> word for Keras's encoding, from a ``*_word_index.json`` (None without one)."""
    if not path.is_file():
        return None
    try:
        word_index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(word_index, dict) or not word_index:
        return None
    return vocabulary_from_word_index(word_index, index_from)


def vocabulary_from_word_index(word_index: dict[str, int], index_from: int = INDEX_FROM) -> list[str]:
    """Keras's word index (word -> rank from 1) as a list index -> word of the encoded ids."""
    vocabulary = ["<pad>", "<start>", "<oov>"] + [""] * (max(word_index.values()) + index_from - 2)
    for word, index in word_index.items():
        vocabulary[index + index_from] = word
    return vocabulary


# --------------------------------------------------------------------------- Boston housing


def boston_from_raw(
    x: Any, y: Any, test_split: float = 0.2, seed: int = 113
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """``keras.datasets.boston_housing.load_data`` on the arrays of boston_housing.npz."""
    order = keras_permutation(len(x), np.random.RandomState(seed))
    x, y = x[order], y[order]
    cut = keras_train_count(len(x), test_split)
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))


def read_boston_npz(path: Path, test_split: float) -> Loaded:
    """boston_housing.npz (x, y) as Keras splits it, or an .npz with x_train ... y_test.

    Raises:
        DataError: neither layout, x and y of different lengths, arrays that are not numbers.
    """
    with open_npz(path) as archive:
        keys = list(archive.files)
        if all(key in keys for key in XY_KEYS):
            x, y = archive["x"], archive["y"]
        elif all(key in keys for key in SPLIT_KEYS):
            arrays = [archive[key].astype(np.float32) for key in SPLIT_KEYS]
            for split, (xs, ys) in (("train", arrays[:2]), ("test", arrays[2:])):
                check_same_length(path, xs, ys, f"x_{split}", f"y_{split}")
            return Loaded(
                (arrays[0], arrays[1]),
                (arrays[2], arrays[3]),
                f"{path.name}: x_train ... y_test",
                "the file's order",
            )
        else:
            raise DataError(
                f"{path} has the arrays {', '.join(keys) or 'none'}; a "
                "boston_housing .npz holds x and y (as Keras downloads it) or "
                f"{', '.join(SPLIT_KEYS)}."
            )
    check_same_length(path, x, y)
    train, test = boston_from_raw(x, y, test_split)
    return Loaded(
        train,
        test,
        f"{path.name}: x and y, as keras.datasets.boston_housing keeps "
        f"them (permuted with seed 113, the last {test_split:g} held out)",
        KERAS_ORDER,
    )
