"""Datasets: one contract (:class:`Dataset`), a registry of loaders, and ``load_dataset``.

Every dataset module of :mod:`dlab.data.datasets` registers its ``load_data(config, seed)``
with :func:`dataset` and, like ``keras.datasets.<name>.load_data()``, returns a dataset of
the same contract whatever the source: ``keras`` (download and cache), ``file`` / ``dir``
(the dataset's own on-disk format) or ``synthetic`` (a deterministic twin with the real
shapes, dtypes and labels, and a signal a model can learn). The contract
(:mod:`dlab.data.contract`): split sizes, a split as batches, and ``describe()`` for
metrics.json, implemented by :class:`ArrayDataset` (NumPy arrays), :class:`StreamDataset`
(tf.data streams of single samples) and :class:`BatchedDataset` (batches cut from arrays).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlab.data.contract import (
    ArrayDataset,
    BatchedDataset,
    Dataset,
    DescribedSplits,
    SplitReader,
    StreamDataset,
)
from dlab.data.registry import DuplicateDatasetError, dataset, loader
from dlab.data.registry import names as dataset_names
from dlab.errors import DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig

__all__ = [
    "ArrayDataset",
    "BatchedDataset",
    "Dataset",
    "DescribedSplits",
    "DuplicateDatasetError",
    "SplitReader",
    "StreamDataset",
    "dataset",
    "dataset_names",
    "load_dataset",
    "require_path",
    "require_source",
    "split_validation",
]


def load_dataset(config: DataConfig, seed: int, **options: Any) -> Dataset:
    """Load ``config.dataset`` from ``config.source``; arrays get their sample limits and
    validation split here (streams apply their own when they are read).

    Args:
        options: what a loader takes beyond the data section (a class-folder tree's
            ``image_size``, set by the model that reads it).

    Raises:
        ConfigError: an unknown dataset name.
        DataError: the data cannot be read (missing path, wrong layout, offline download).
    """
    return loader(config.dataset)(config, seed, **options).read(_Limits(config, seed))


@dataclass
class _Limits:
    """``data.train_samples`` / ``test_samples`` and ``data.validation`` applied to arrays
    (a :class:`SplitReader`); a stream applied them itself when its files were listed."""

    config: DataConfig
    seed: int

    def arrays(self, data: ArrayDataset) -> ArrayDataset:
        from dlab.data.checks.values import check_not_empty  # lazy: imports numpy, dlab list imports this

        data = data.first(self.config.train_samples, self.config.test_samples)
        data = split_validation(data, self.config.validation, self.seed)
        check_not_empty(data.location or data.name, data.x_train)
        return data

    def batches(self, data: Dataset) -> Dataset:
        return data


def split_validation(dataset: ArrayDataset, spec: str | int | float, seed: int = 0) -> ArrayDataset:
    """Choose the validation data given to fit (see :func:`dlab.data.checks.splits.split_validation`)."""
    from dlab.data.checks.splits import split_validation as choose  # lazy: see _Limits.arrays

    return choose(dataset, spec, seed)


def require_source(config: DataConfig, allowed: tuple[str, ...], why: str) -> None:
    """Refuse a ``data.source`` this dataset does not have, saying which ones it does.

    Raises:
        DataError: ``config.source`` is not in ``allowed``.
    """
    if config.source not in allowed:
        raise DataError(
            f"data.source={config.source} is not available for {config.dataset} "
            f"({why}). Use data.source={' or '.join(allowed)}."
        )


def require_path(config: DataConfig, what: str, kind: str = "any") -> Path:
    """``data.path`` as an existing Path (``kind``: "file", "dir" or "any").

    Raises:
        DataError: no path given, or nothing of that kind there; the message says what to give.
    """
    if not config.path:
        raise DataError(f"data.source={config.source} needs data.path: {what}. Add --set data.path=...")
    path = Path(config.path).expanduser()
    if not path.exists():
        raise DataError(f"data.path '{config.path}' does not exist (expected {what}).")
    if kind == "file" and not path.is_file():
        raise DataError(f"data.path '{config.path}' is a folder; expected {what}.")
    if kind == "dir" and not path.is_dir():
        raise DataError(f"data.path '{config.path}' is a file; expected {what}.")
    return path
