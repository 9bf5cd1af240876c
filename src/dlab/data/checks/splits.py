"""Orders and splits: where the examples' order comes from, and how validation data is chosen.

A file written class by class (an aclImdb tree read folder by folder, a CSV sorted
by its label, a user's .npz) must never let its order decide a split. So:

- The Keras loaders' own orders are reproduced exactly: IMDB, Reuters and Boston
  housing are permuted with ``np.random.RandomState(113)`` (:func:`keras_permutation`)
  and Reuters / Boston cut at ``int(n * (1 - test_split))`` (:func:`keras_train_count`).
- Files whose order dlab keeps (a user's ``x_train`` .npz, as ``keras.datasets.mnist``
  keeps ``mnist.npz``) are shuffled with the run's seed when their labels come in
  blocks of one class (:func:`shuffle_if_grouped`).
- ``data.validation: FRACTION`` is a seeded random subset of the training data,
  stratified by class for classifiers (:func:`stratified_indices`); ``data.validation:
  N`` (the first N) is kept for data in random order and refused for data whose order
  is kept on purpose (a time series, a text read in sequence), where a fraction
  takes the last part instead.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from dlab.errors import ConfigError

if TYPE_CHECKING:
    from dlab.data import ArrayDataset

KERAS_SEED = 113
"""The seed every ``keras.datasets`` loader that shuffles uses by default."""


def keras_permutation(n: int, rng: np.random.RandomState | None = None) -> np.ndarray:
    """The order ``keras.datasets.{imdb,reuters,boston_housing}.load_data()`` puts n examples in.

    Keras does ``indices = np.arange(n); np.random.RandomState(113).shuffle(indices)``;
    IMDB shuffles its test split with the same generator right after the training split,
    so pass that generator as ``rng`` to continue it.
    """
    indices = np.arange(n)
    (rng if rng is not None else np.random.RandomState(KERAS_SEED)).shuffle(indices)
    return indices


def keras_train_count(n: int, test_split: float) -> int:
    """How many of n shuffled examples Keras keeps for training (Reuters, Boston housing)."""
    return int(n * (1 - test_split))


def class_labels(y: Any, num_classes: int = 0) -> np.ndarray | None:
    """One integer-like label per example: (N,), (N, 1) or one-hot (N, K); None for anything else."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim == 2 and num_classes > 1 and y.shape[1] == num_classes:
        return y.argmax(axis=1)
    return y if y.ndim == 1 else None


def grouped_by_class(y: Any) -> bool:
    """True when labels come in long runs of one class (a file written class by class).

    In random order, consecutive labels differ about ``(n - 1) * (1 - sum(p_c^2))``
    times; a class-sorted file changes label only K - 1 times. Fewer than half the
    expected changes (over at least 20 examples) counts as grouped.
    """
    labels = class_labels(y)
    if labels is None or len(labels) < 20:
        return False
    _, counts = np.unique(labels, return_counts=True)
    if len(counts) < 2:
        return False
    shares = counts / counts.sum()
    expected = (len(labels) - 1) * (1.0 - float((shares**2).sum()))
    changes = int(np.count_nonzero(labels[1:] != labels[:-1]))
    return changes < 0.5 * expected


def shuffle_if_grouped(x: Any, y: Any, seed: int, split: str) -> tuple[Any, Any, str | None]:
    """Shuffle ``(x, y)`` with ``seed`` when the labels come class by class; say so when it did.

    Returns:
        ``(x, y, note)``: the arrays (the same objects when nothing was done) and a sentence
        for metrics.json, or None.
    """
    if not grouped_by_class(y):
        return x, y, None
    order = np.random.default_rng(seed).permutation(len(y))
    return (
        x[order],
        y[order],
        f"the file's {split} examples came in blocks of one class; shuffled with the run's seed",
    )


def validation_count(n: int, fraction: float) -> int:
    """The number of validation examples a fraction of n means."""
    return int(round(n * fraction))


def stratified_indices(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` indices drawn at random with ``seed``, each class in its share (sorted).

    Each class gets its share of ``count`` rounded down; the examples left over go to
    the classes with the largest remainders, so the total is exactly ``count``.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    values, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    exact = sizes * count / max(len(labels), 1)
    take = np.floor(exact).astype(np.int64)
    remainder = count - int(take.sum())
    if remainder > 0:
        take[np.argsort(-(exact - take), kind="stable")[:remainder]] += 1
    grouped = order[np.argsort(inverse[order], kind="stable")]  # by class, random within each
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(len(grouped)) - np.repeat(starts, sizes)
    chosen = grouped[rank < np.repeat(take, sizes)]
    return np.sort(chosen)


def random_indices(n: int, count: int, seed: int) -> np.ndarray:
    """``count`` of ``n`` indices drawn at random with ``seed`` (sorted)."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:count])


def split_validation(dataset: ArrayDataset, spec: str | int | float, seed: int = 0) -> ArrayDataset:
    """Choose the validation data given to fit, as ``data.validation`` says.

    ``"test"`` validates on the test split (no copy); a fraction takes a random subset
    of the training data drawn with ``seed``, stratified by class for classifiers (data
    kept in order on purpose, such as a text read in sequence, gives its last part
    instead); a count N takes the first N training samples (data in random order only);
    ``"split"`` keeps the validation split the dataset module made (a time series'
    next rows); ``"none"`` fits without.

    Raises:
        ConfigError: the split leaves no training data, ``"split"`` for a dataset without
            one, or a count on data whose order is kept on purpose.
    """
    n = len(dataset.x_train)
    if spec == "split":
        if dataset.x_val is None:
            raise ConfigError(
                f"data.validation='split' asks for the dataset's own validation "
                f"split (jena's next 25% of the series, the validation/ folder of "
                f"a class-folder tree), and {dataset.name} has none. Use 'test', a "
                "fraction (e.g. 0.2) or a count of training samples."
            )
        return dataset
    if spec == "none":
        return replace(dataset, x_val=None, y_val=None, validation="none")
    if spec == "test":
        return replace(dataset, x_val=dataset.x_test, y_val=dataset.y_test, validation="the test split")
    if isinstance(spec, float):
        n_val = validation_count(n, spec)
    else:
        n_val = int(spec)
        if dataset.ordered:
            raise ConfigError(
                f"data.validation={spec} takes the first {spec} training samples, and "
                f"{dataset.name} keeps its order on purpose ({dataset.order}), so the first "
                f"{spec} would be one stretch of it rather than a sample of the whole. Use a "
                f"fraction instead (e.g. data.validation={_fraction_hint(spec, n)}: the last "
                "part of it, as a held-out stretch should be), or 'test'."
            )
    if n_val < 1 or n_val >= n:
        raise ConfigError(
            f"data.validation={spec!r} leaves {n - n_val} of {n} training samples for training "
            f"and {n_val} for validation; both need at least one. Use a smaller count or "
            "fraction, or 'test'."
        )
    val, words = _validation_rows(dataset, spec, n, n_val, seed)
    train = np.ones(n, dtype=bool)
    train[val] = False
    return replace(
        dataset,
        x_train=dataset.x_train[train],
        y_train=dataset.y_train[train],
        x_val=dataset.x_train[val],
        y_val=dataset.y_train[val],
        validation=words,
    )


def _validation_rows(
    dataset: ArrayDataset, spec: int | float, n: int, n_val: int, seed: int
) -> tuple[Any, str]:
    """The rows that validate (a slice or sorted indices) and how they were chosen, in words."""
    if not isinstance(spec, float):
        return slice(0, n_val), f"the first {n_val} training samples"
    if dataset.ordered:
        return (slice(n - n_val, n), f"the last {spec:.0%} of the training data ({n_val} samples, in order)")
    labels = class_labels(dataset.y_train, dataset.num_classes) if dataset.class_names else None
    if labels is not None:
        return (
            stratified_indices(labels, n_val, seed),
            f"a random {spec:.0%} of the training data ({n_val} samples, stratified by class, seed {seed})",
        )
    return (
        random_indices(n, n_val, seed),
        f"a random {spec:.0%} of the training data ({n_val} samples, seed {seed})",
    )


def _fraction_hint(count: int, n: int) -> str:
    share = count / n if n else 0.2
    return f"{share:.2f}" if 0 < share < 1 else "0.2"
