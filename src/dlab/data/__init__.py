"""Datasets: one module per dataset, each offering ``load_data(config, seed)``.

Like ``keras.datasets.<name>.load_data()``, every dataset module has the same
function and the same return shape (an :class:`ArrayDataset`), whatever the
source: ``keras`` (download and cache), ``file`` / ``dir`` (the dataset's own
on-disk format) or ``synthetic`` (a deterministic twin with the real shapes,
dtypes and labels, and a signal a model can learn).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dlab.errors import ConfigError, DataError, did_you_mean

if TYPE_CHECKING:
    import numpy as np

    from dlab.config import DataConfig

DATASETS: dict[str, str] = {
    "cifar10": "cifar10",
    "mnist": "mnist",
    "fashion_mnist": "fashion_mnist",
    "imdb": "imdb",
    "reuters": "reuters",
    "boston_housing": "boston_housing",
    "higgs": "higgs",
    "creditcard": "creditcard",
    "logic_and": "truth_tables",
    "logic_xor": "truth_tables",
    "binary_decoder": "truth_tables",
    "breast_cancer": "breast_cancer",
    "regression": "regression",
    "circle": "playground",
    "xor": "playground",
    "gaussian": "playground",
    "spiral": "playground",
    "jena": "jena",
    "timemachine": "timemachine",
    "oxford_pets": "oxford_pets",
}
"""Dataset name -> the module ``dlab.data.<module>`` whose ``load_data(config, seed)`` loads it."""


class Dataset(Protocol):
    """What every dataset gives an experiment, whatever holds it (arrays or tf.data streams)."""

    name: str
    source: str

    def describe(self) -> dict[str, Any]:
        """Source, location and split sizes, for metrics.json."""
        ...


@runtime_checkable
class Streamed(Protocol):
    """A dataset held as tf.data streams rather than arrays (Jena windows, folder trees, masks).

    It reports its split sizes and gives the batches of a split; the training recipe and
    :func:`load_dataset` read it through this protocol instead of asking for arrays.
    """

    @property
    def sizes(self) -> dict[str, int]:
        """Samples per split (``train``, ``val``, ``test``)."""
        ...

    def batches(self, split: str, batch_size: int, shuffle: bool = False, target: Any = None) -> Any:
        """The split as batches (a ``tf.data.Dataset``)."""
        ...


@dataclass
class ArrayDataset:
    """Train / validation / test splits held as NumPy arrays.

    Attributes:
        name: dataset name, e.g. ``cifar10``.
        source: where it came from (keras, file, dir, synthetic).
        location: the file, folder or URL it was read from (None for synthetic).
        x_train, y_train: the data used for fitting (validation already taken out).
        x_test, y_test: the held-out test split.
        x_val, y_val: the validation data given to fit (may be the test split).
        validation: how the validation data was chosen, in words.
        class_names: label names for classifiers, index = label.
        vocabulary: for text, index -> word, to decode documents for people.
        test_documents: for text, the first raw test documents (word indices), kept
            after encoding so that predictions.txt can show them.
        order: how the examples were ordered when they were read, in words (metrics.json).
        ordered: True when that order is kept on purpose (a time series, a text read in
            sequence): a validation count is then refused and a fraction is the last part.
    """

    name: str
    source: str
    location: str | None
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str] | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    validation: str = "none"
    extra: dict[str, Any] = field(default_factory=dict)
    vocabulary: list[str] | None = field(default=None, repr=False)
    test_documents: Any = field(default=None, repr=False)
    order: str = "random"
    ordered: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_names or [])

    def first(self, train_samples: int | None, test_samples: int | None) -> ArrayDataset:
        """Keep only the first N training / test samples (None keeps all; slices, no copies)."""
        return replace(
            self,
            x_train=self.x_train[:train_samples],
            y_train=self.y_train[:train_samples],
            x_test=self.x_test[:test_samples],
            y_test=self.y_test[:test_samples],
        )

    def map_inputs(self, encode, **changes: Any) -> ArrayDataset:
        """Apply ``encode`` to x_train, x_val and x_test (once, when validation is the test split)."""
        x_train, x_test = encode(self.x_train), encode(self.x_test)
        if self.x_val is self.x_test:
            x_val = x_test
        else:
            x_val = encode(self.x_val) if self.x_val is not None else None
        return replace(self, x_train=x_train, x_val=x_val, x_test=x_test, **changes)

    def describe(self) -> dict[str, Any]:
        """The dataset part of metrics.json."""
        return {
            "dataset": self.name,
            "source": self.source,
            "location": self.location,
            "validation": self.validation,
            "order": self.order,
            "train_samples": int(len(self.x_train)),
            "val_samples": int(len(self.x_val)) if self.x_val is not None else 0,
            "test_samples": int(len(self.x_test)),
            "input_shape": list(self.x_train.shape[1:]) if self.x_train.ndim > 1 else None,
            "num_classes": self.num_classes or None,
            **self.extra,
        }


@dataclass
class BatchedDataset:
    """Train / validation / test splits as batched ``tf.data.Dataset``s of (inputs, targets).

    For samples that are cut on the fly instead of held as arrays (the windows of a time
    series, :mod:`dlab.data.datasets.jena`): ``model.fit`` and ``evaluate`` read them batch by batch,
    and :func:`dlab.training.fit_and_evaluate` accepts one in place of an ArrayDataset.

    Attributes:
        rows: the ArrayDataset the samples are cut from (name, source, splits).
        train, val, test: batched datasets; batch size and shuffling are already in them.
        train_samples, val_samples, test_samples: samples per split (per epoch).
        input_shape: one sample's input shape.
        extra: fields added to the dataset part of metrics.json.
    """

    rows: ArrayDataset
    train: Any = field(repr=False)
    val: Any = field(repr=False)
    test: Any = field(repr=False)
    train_samples: int
    val_samples: int
    test_samples: int
    input_shape: tuple[int, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return 0

    @property
    def sizes(self) -> dict[str, int]:
        """Samples per split, as every :class:`Streamed` dataset reports them."""
        return {"train": self.train_samples, "val": self.val_samples, "test": self.test_samples}

    def batches(self, split: str, batch_size: int, shuffle: bool = False, target: Any = None) -> Any:
        """``split`` for fit/evaluate: already batched (and, for train, shuffled) when it was cut.

        The arguments exist so that training reads every stream dataset the same way; the
        windows were batched with ``train.batch_size`` when the experiment built them.
        """
        return {"train": self.train, "val": self.val, "test": self.test}[split]

    def describe(self) -> dict[str, Any]:
        """The dataset part of metrics.json: the rows' description, sample counts of the batches."""
        rows = self.rows.describe()
        return {
            **rows,
            "train_samples": self.train_samples,
            "val_samples": self.val_samples,
            "test_samples": self.test_samples,
            "input_shape": list(self.input_shape),
            "rows_per_split": {
                "train": rows["train_samples"],
                "val": rows["val_samples"],
                "test": rows["test_samples"],
            },
            **self.extra,
        }


def load_dataset(config: DataConfig, seed: int) -> ArrayDataset:
    """Load ``config.dataset`` from ``config.source`` and split off the validation data.

    Raises:
        ConfigError: an unknown dataset name.
        DataError: the data cannot be read (missing path, wrong layout, offline download).
    """
    if config.dataset not in DATASETS:
        raise ConfigError(
            f"Unknown dataset '{config.dataset}' (data.dataset).{did_you_mean(config.dataset, DATASETS)}"
            f" Available: {', '.join(sorted(DATASETS))}."
        )
    module = importlib.import_module(f"dlab.data.datasets.{DATASETS[config.dataset]}")
    dataset: ArrayDataset = module.load_data(config, seed)
    if isinstance(dataset, Streamed):  # a tf.data stream applies its own limits and validation
        return dataset
    dataset = dataset.first(config.train_samples, config.test_samples)
    dataset = split_validation(dataset, config.validation, seed)
    from dlab.data.checks.values import check_not_empty

    check_not_empty(dataset.location or dataset.name, dataset.x_train)
    return dataset


def split_validation(dataset: ArrayDataset, spec: str | int | float, seed: int = 0) -> ArrayDataset:
    """Choose the validation data given to fit (see :func:`dlab.data.checks.splits.split_validation`)."""
    from dlab.data.checks.splits import split_validation as choose

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
