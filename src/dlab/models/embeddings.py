"""Word embeddings: CBOW training pairs, word2vec text files, nearest neighbours, PCA.

Everything here is NumPy, so it is cheap to import and easy to test on its own
(the PCA map is drawn by :func:`dlab.plots.embedding_map`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dlab.errors import DataError
from dlab.fileio import atomic_write_text


def cbow_pairs(
    ids: np.ndarray, window: int, skip_targets: Sequence[int] = (0,)
) -> tuple[np.ndarray, np.ndarray]:
    """(context, target) pairs for continuous bag of words, built without a Python loop.

    Every position with ``window`` words on each side is a target; its context is
    those ``2 * window`` words in order (left then right). A sliding-window view
    of the id array gives all windows at once (no copy until the columns are taken).

    Args:
        ids: word ids of the text, in order.
        window: words on each side (>= 1).
        skip_targets: ids never used as targets (padding, the out-of-vocabulary token).

    Returns:
        contexts (pairs, 2 * window) and targets (pairs,), both int32.

    Raises:
        DataError: the text has fewer than 2 * window + 1 words.
    """
    ids = np.asarray(ids, dtype=np.int32)
    span = 2 * window + 1
    if len(ids) < span:
        raise DataError(
            f"The text has {len(ids)} words; a window of {window} needs at least {span} "
            "(the target and window words on each side). Use a longer text or a "
            "smaller model.window."
        )
    windows = np.lib.stride_tricks.sliding_window_view(ids, span)
    targets = windows[:, window]
    keep = ~np.isin(targets, np.asarray(skip_targets, dtype=np.int32))
    contexts = np.concatenate([windows[keep, :window], windows[keep, window + 1 :]], axis=1)
    return contexts, np.ascontiguousarray(targets[keep])


def write_word2vec(path: Path, words: Sequence[str], vectors: np.ndarray) -> None:
    """Save vectors in word2vec text format: "N D", then "word v1 ... vD" per line (atomically).

    Raises:
        ValueError: a word is empty or contains whitespace (the format splits on it).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(words) != len(vectors):
        raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
    bad = [w for w in words if not w or any(c.isspace() for c in w)]
    if bad:
        raise ValueError(f"words empty or with whitespace cannot be written in word2vec text: {bad[:5]}")
    rows = np.char.mod("%.6g", vectors)
    lines = [f"{len(words)} {vectors.shape[1]}"]
    lines += [f"{word} {' '.join(row)}" for word, row in zip(words, rows, strict=True)]
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_word2vec(path: Path) -> tuple[list[str], np.ndarray]:
    """Read a word2vec text file written by :func:`write_word2vec` (or gensim).

    Raises:
        DataError: a header that is not "N D", or a line without D numbers after the word.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    try:
        count, dimensions = (int(part) for part in lines[0].split())
    except (ValueError, IndexError):
        raise DataError(f"{path}: the first line must be 'N D' (words, dimensions).") from None
    words, vectors = [], []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(" ")
        if len(fields) != dimensions + 1:
            raise DataError(f"{path} line {number}: {len(fields)} fields, expected {dimensions + 1}.")
        words.append(fields[0])
        vectors.append([float(v) for v in fields[1:]])
    if len(words) != count:
        raise DataError(f"{path}: the header says {count} words, the file has {len(words)}.")
    return words, np.asarray(vectors, dtype=np.float32).reshape(count, dimensions)


def nearest_neighbours(
    vectors: np.ndarray, queries: Sequence[int], count: int, exclude: Sequence[int] = ()
) -> list[list[tuple[int, float]]]:
    """The ``count`` rows most similar by cosine to each query row (itself and ``exclude`` left out).

    Returns:
        per query, (row index, cosine similarity) pairs, most similar first.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    similarity = unit[list(queries)] @ unit.T
    similarity[:, list(exclude)] = -np.inf
    similarity[np.arange(len(queries)), list(queries)] = -np.inf
    count = min(count, vectors.shape[0] - 1 - len(set(exclude) - set(queries)))
    order = np.argsort(-similarity, axis=1, kind="stable")[:, : max(count, 0)]
    return [[(int(j), float(similarity[i, j])) for j in row] for i, row in enumerate(order)]


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Project rows onto their first two principal components (centred SVD)."""
    centred = np.asarray(vectors, dtype=np.float64) - np.mean(vectors, axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T
