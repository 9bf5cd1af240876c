"""Text datasets as word-index sequences (IMDB, Reuters) from any source, and their encodings.

A dataset module describes its data with a :class:`TextDatasetSpec` and calls
:func:`load_sequences`, which returns an :class:`~dlab.data.ArrayDataset` whose
``x`` arrays hold one list of word indices per document (the layout
``keras.datasets.imdb.load_data()`` returns). Experiments then encode them:
:func:`multi_hot` for dense networks, :func:`pad` for sequence models.

Sources:
- ``keras``: ``keras.datasets.<name>.load_data(num_words=...)`` (downloads and caches).
- ``file``: the ``.npz`` Keras downloads (imdb.npz, reuters.npz), split and encoded
  exactly as the Keras loader does (:mod:`dlab.data.formats.keras_files`), or an ``.npz`` of
  what ``load_data()`` returns. Ragged sequences are stored as object
  arrays, which NumPy can only read with pickle; dlab reads them with an
  unpickler that accepts nothing but arrays and lists, so a crafted file cannot
  run code.
- ``dir`` (IMDB): the original aclImdb tree (train/pos, train/neg, test/pos,
  test/neg of .txt reviews), put in Keras's seed-113 order (the files come one
  class after the other), tokenized by a Keras ``TextVectorization`` layer
  fitted on the training text only.
- ``synthetic``: documents with the real length distribution, a Zipf
  vocabulary, the real label balance, and words that carry the label.

Index conventions follow Keras: 0 is padding, 1 marks the start (Keras) and 2
an out-of-vocabulary word; for the ``dir`` source 1 is the OOV token.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dlab.data import ArrayDataset, require_path, require_source
from dlab.data.checks.splits import keras_permutation
from dlab.data.formats.cache import dataset_lock, download
from dlab.data.formats.keras_files import KERAS_ORDER, read_text_npz, vocabulary_from_word_index
from dlab.data.formats.npz_text import check_word_indices, flatten_sequences, read_npz_safely  # noqa: F401
from dlab.errors import DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
START, OOV, INDEX_FROM = 1, 2, 3
TREE_ORDER = (
    "the files read class by class, then train and test each permuted with "
    "np.random.RandomState(113), as keras.datasets.imdb permutes imdb.npz"
)


@dataclass(frozen=True)
class TextDatasetSpec:
    """What a word-index text dataset looks like when Keras loads it.

    Attributes:
        name: dataset name (``data.dataset``).
        class_names: label names, index = label.
        class_weights: the real label balance (for the synthetic twin).
        train_size, test_size: sizes of the real splits.
        vocabulary_size: distinct words in the real data (``num_words`` may not exceed it).
        median_length, length_spread: log-normal document lengths (median words, sigma).
        keras_module: ``keras.datasets.<keras_module>`` loads it.
        downloads: (URL, file under ``~/.keras/datasets``) for the offline message.
        has_dir_source: an original text tree exists (aclImdb for IMDB).
    """

    name: str
    class_names: tuple[str, ...]
    class_weights: tuple[float, ...]
    train_size: int
    test_size: int
    vocabulary_size: int
    median_length: int
    length_spread: float
    keras_module: str
    downloads: tuple[tuple[str, str], ...]
    has_dir_source: bool = False


def load_sequences(spec: TextDatasetSpec, config: DataConfig, seed: int) -> ArrayDataset:
    """Load ``spec``'s documents as word-index lists from ``config.source``.

    Raises:
        DataError: bad num_words, a missing/malformed file or tree, a failed download.
    """
    sources = ("keras", "file", "synthetic") + (("dir",) if spec.has_dir_source else ())
    require_source(config, sources, "its sources are " + ", ".join(sources))
    num_words = config.num_words or spec.vocabulary_size
    if num_words > spec.vocabulary_size + INDEX_FROM:
        raise DataError(
            f"data.num_words={num_words} is larger than the {spec.name} vocabulary "
            f"({spec.vocabulary_size} words). Use at most {spec.vocabulary_size}."
        )
    vocabulary, layout, order = None, None, "random"
    if config.source == "keras":
        (x_train, y_train), (x_test, y_test) = _from_keras(spec, num_words, config.test_split)
        location, order = spec.downloads[0][0], KERAS_ORDER
        vocabulary = keras_vocabulary(spec)  # to decode predictions.txt (None if it cannot be had)
    elif config.source == "file":
        path = require_path(
            config, f"an .npz as Keras keeps it ({spec.name}.npz) or with " + ", ".join(NPZ_KEYS), kind="file"
        )
        loaded = read_text_npz(spec, path, num_words, config.test_split, seed)
        (x_train, y_train), (x_test, y_test) = loaded.train, loaded.test
        location, vocabulary, layout, order = str(path), loaded.vocabulary, loaded.layout, loaded.order
    elif config.source == "dir":
        path = require_path(config, "an aclImdb folder with train/ and test/ (pos/ and neg/)", kind="dir")
        (x_train, y_train), (x_test, y_test), vocabulary = _from_review_tree(path, num_words)
        location, order = str(path), TREE_ORDER
    else:
        (x_train, y_train), (x_test, y_test) = synthetic_corpus(
            spec,
            config.train_samples or spec.train_size,
            config.test_samples or spec.test_size,
            num_words,
            seed,
        )
        location = None
    return ArrayDataset(
        name=spec.name,
        source=config.source,
        location=location,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=list(spec.class_names),
        extra={"num_words": num_words, **({"layout": layout} if layout else {})},
        vocabulary=vocabulary,
        order=order,
    )


# --------------------------------------------------------------------------- encodings


def multi_hot(sequences, num_words: int) -> np.ndarray:
    """One row per document, 1 in the column of every word index it contains.

    Vectorized: the indices of all documents are gathered into one array and
    scattered into the matrix in a single assignment (no Python loop over
    words). The matrix is uint8, a quarter of float32 and an eighth of the
    float64 that ``np.zeros`` gives by default; Keras casts each batch.
    """
    flat, rows = flatten_sequences(sequences)
    keep = flat < num_words
    matrix = np.zeros((len(sequences), num_words), dtype=np.uint8)
    matrix[rows[keep], flat[keep]] = 1
    return matrix


def pad(sequences, maxlen: int) -> np.ndarray:
    """Pad with zeros and truncate at the front, as ``keras.utils.pad_sequences`` does by default:
    the last ``maxlen`` words of each document are kept, so a sequence model reads them last."""
    import keras

    return keras.utils.pad_sequences(
        list(sequences), maxlen=maxlen, padding="pre", truncating="pre", dtype="int32"
    )


def decode(sequence, vocabulary: list[str] | None) -> str:
    """Word indices back to words (``#N`` where the word is unknown)."""
    if vocabulary is None:
        return " ".join(f"#{i}" for i in sequence)
    words = []
    for index in sequence:
        if index == 0:
            continue
        words.append(vocabulary[index] if index < len(vocabulary) else f"#{index}")
    return " ".join(words)


# --------------------------------------------------------------------------- keras


def _from_keras(spec: TextDatasetSpec, num_words: int, test_split: float):
    import keras

    loader = getattr(keras.datasets, spec.keras_module)
    local = (
        f"run with --set data.source=file --set data.path=/path/to/{spec.name}.npz (the "
        f"file Keras downloads; `dlab data import {spec.name} FILE` puts it in the Keras "
        "cache)"
    )
    if spec.has_dir_source:
        local += " (an aclImdb review tree works too: --set data.source=dir --set data.path=DIR)"
    # Reuters is one x/y array that Keras splits with test_split; IMDB ships its own split
    options = {
        "num_words": num_words,
        **({"test_split": test_split} if spec.keras_module == "reuters" else {}),
    }
    (x_train, y_train), (x_test, y_test) = download(
        spec.name, spec.downloads, local, lambda: loader.load_data(**options)
    )
    return (x_train, np.asarray(y_train)), (x_test, np.asarray(y_test))


def keras_vocabulary(spec: TextDatasetSpec) -> list[str] | None:
    """index -> word for the Keras encoding (needs the word-index download; None offline)."""
    import keras

    try:
        with dataset_lock(f"{spec.name}_word_index"):
            word_index = getattr(keras.datasets, spec.keras_module).get_word_index()
    except Exception:
        return None
    return vocabulary_from_word_index(word_index, INDEX_FROM)


# --------------------------------------------------------------------------- file


def _read_reviews(root: Path, split: str) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for label, polarity in enumerate(("neg", "pos")):
        folder = root / split / polarity
        if not folder.is_dir():
            raise DataError(
                f"'{root}' has no {split}/{polarity}/ folder. data.source=dir expects "
                "the aclImdb layout: train/pos, train/neg, test/pos, test/neg with one "
                ".txt review per file."
            )
        files = sorted(folder.glob("*.txt"))
        if not files:
            raise DataError(f"{folder} holds no .txt reviews.")
        for file in files:
            text = file.read_text(encoding="utf-8", errors="replace").strip()
            if not text:
                raise DataError(f"{file} is empty; remove it or put the review's text in it.")
            texts.append(text.replace("<br />", " "))
            labels.append(label)
    return texts, np.asarray(labels, dtype=np.int64)


def _from_review_tree(root: Path, num_words: int):
    import keras

    train_texts, y_train = _read_reviews(root, "train")
    test_texts, y_test = _read_reviews(root, "test")
    # the files come negative, then positive: Keras's own permutation mixes them
    rng = np.random.RandomState(113)
    train_order, test_order = keras_permutation(len(y_train), rng), keras_permutation(len(y_test), rng)
    train_texts, y_train = [train_texts[i] for i in train_order], y_train[train_order]
    test_texts, y_test = [test_texts[i] for i in test_order], y_test[test_order]
    vectorizer = keras.layers.TextVectorization(max_tokens=num_words, output_mode="int")
    vectorizer.adapt(train_texts, batch_size=1024)  # the training text only: no test leakage

    def encode(texts: list[str]) -> np.ndarray:
        padded = np.asarray(vectorizer(texts))
        lengths = (padded != 0).sum(axis=1)  # padding is at the end; tokens are never 0
        sequences = np.empty(len(texts), dtype=object)
        sequences[:] = [row[:n].tolist() for row, n in zip(padded, lengths, strict=True)]
        return sequences

    vocabulary = [str(word) for word in vectorizer.get_vocabulary()]
    return (encode(train_texts), y_train), (encode(test_texts), y_test), vocabulary


# --------------------------------------------------------------------------- synthetic


def synthetic_corpus(
    spec: TextDatasetSpec,
    n_train: int,
    n_test: int,
    num_words: int,
    seed: int,
    signal_share: float = 0.08,
    signal_words: int = 30,
):
    """A twin of ``spec``: real length distribution, Zipf words, real label balance, and a
    share of every document's words drawn from a few words that belong to its class."""
    rng = np.random.default_rng(seed)
    num_classes = len(spec.class_names)
    vocabulary = np.arange(INDEX_FROM, max(num_words, INDEX_FROM + 1))
    zipf = 1.0 / np.arange(1, len(vocabulary) + 1)
    zipf /= zipf.sum()
    middle = vocabulary[len(vocabulary) // 10 :] if len(vocabulary) > 10 * signal_words else vocabulary
    class_words = rng.choice(middle, size=(num_classes, signal_words))
    weights = np.asarray(spec.class_weights, dtype=np.float64)
    weights /= weights.sum()

    def make(n: int):
        labels = rng.choice(num_classes, size=n, p=weights)
        lengths = np.clip(rng.lognormal(np.log(spec.median_length), spec.length_spread, n), 10, 2500).astype(
            np.int64
        )
        tokens = rng.choice(vocabulary, size=int(lengths.sum()), p=zipf)
        owner = np.repeat(labels, lengths)
        signal = rng.random(tokens.size) < signal_share
        tokens[signal] = class_words[owner[signal], rng.integers(0, signal_words, signal.sum())]
        documents = np.empty(n, dtype=object)
        documents[:] = [[START, *part.tolist()] for part in np.split(tokens, np.cumsum(lengths)[:-1])]
        return documents, labels.astype(np.int64)

    return make(n_train), make(n_test)
