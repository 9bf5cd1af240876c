"""The dataset contract: the :class:`Dataset` protocol and the three types that implement it.

Whatever holds the samples, training reads a dataset the same way: its split sizes
(:attr:`Dataset.sizes`), a split as batches (:meth:`Dataset.batches`) and the dataset part
of metrics.json (:meth:`Dataset.describe`, written once, in :class:`DescribedSplits`, for
every type). The types differ in how they hold the splits:

- :class:`ArrayDataset`: NumPy arrays in memory (most datasets; the NumPy models and many
  experiments read the arrays themselves);
- :class:`StreamDataset`: unbatched tf.data streams of single samples, batched on request
  (class-folder trees, images with masks);
- :class:`BatchedDataset`: tf.data streams already batched when they were cut from an
  :class:`ArrayDataset` (the windows of a time series, a text's character subsequences).

Code that must treat arrays differently from streams (the training loop keeps Keras's own
array batching where that is faster) asks the dataset to :meth:`~Dataset.read` itself with
a :class:`SplitReader`: the dataset picks the reader's method, so no caller checks types.

This module imports neither NumPy nor TensorFlow at the top: ``dlab list`` imports
:mod:`dlab.data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from dlab.data.modalities.arrays import array_batches
from dlab.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import tensorflow as tf

ARRAY_ATTRIBUTES = frozenset({"x_train", "y_train", "x_val", "y_val", "x_test", "y_test"})
"""The split arrays of an :class:`ArrayDataset`, which a stream does not have."""

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class NotArraysError(ConfigError, AttributeError):
    """An experiment that reads arrays was given a streamed dataset (exit 2, not a crash).

    Also an AttributeError, so that ``hasattr`` and ``getattr(data, "x_train", None)`` still
    answer that a stream has no arrays.
    """


class SplitReader(Protocol[T_co]):
    """Reads a dataset's splits the way the dataset holds them (see :meth:`Dataset.read`)."""

    def arrays(self, data: ArrayDataset) -> T_co:
        """Read splits held as NumPy arrays (``x_train`` ... ``y_test``)."""
        ...

    def batches(self, data: Dataset) -> T_co:
        """Read splits held as tf.data streams, through :meth:`Dataset.batches`."""
        ...


@runtime_checkable
class Dataset(Protocol):
    """What every dataset gives training, whatever holds it (arrays or tf.data streams).

    Attributes:
        name: ``data.dataset``, e.g. ``cifar10``.
        source: where it came from (keras, file, dir, builtin, synthetic).
        location: the file, folder or URL it was read from (None for synthetic data).
        validation: how the validation data was chosen, in words.
    """

    name: str
    source: str
    location: str | None
    validation: str

    @property
    def num_classes(self) -> int:
        """Classes of a classifier (0: not a classifier)."""
        ...

    @property
    def sizes(self) -> dict[str, int]:
        """Samples per split: ``train``, ``val`` (0: none), ``test``."""
        ...

    def batches(self, split: str, batch_size: int, shuffle: bool = False, target: Any = None) -> Any:
        """The split as a ``tf.data.Dataset`` of (inputs, targets) batches.

        Args:
            shuffle: a new order every epoch (training).
            target: maps a batch of labels to what the loss wants (a column, one-hot).
        """
        ...

    def describe(self) -> dict[str, Any]:
        """Source, location, validation and split sizes: the ``data`` block of metrics.json."""
        ...

    def read(self, reader: SplitReader[T]) -> T:
        """``reader.arrays(self)`` or ``reader.batches(self)``, as this dataset holds its splits."""
        ...


class DescribedSplits:
    """The one ``describe()`` of the contract's types: the same keys in the same order for all.

    A type gives what the protocol asks (name ... sizes, num_classes) and three parts of its
    own: :attr:`sample_shape`, the :meth:`order_entry` written after ``validation`` and the
    :meth:`details` written at the end.
    """

    name: str
    source: str
    location: str | None
    validation: str
    sizes: dict[str, int]
    num_classes: int

    @property
    def sample_shape(self) -> tuple[int, ...] | None:
        """One sample's input shape (None: not a fixed shape, e.g. word-index lists)."""
        raise NotImplementedError

    def order_entry(self) -> dict[str, Any]:
        """``{"order": ...}`` when the order the samples were read in goes before the sizes."""
        return {}

    def details(self) -> dict[str, Any]:
        """What this type adds after ``num_classes`` (its ``extra`` fields last)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """The dataset part of metrics.json."""
        sizes, shape = self.sizes, self.sample_shape
        return {
            "dataset": self.name,
            "source": self.source,
            "location": self.location,
            "validation": self.validation,
            **self.order_entry(),
            "train_samples": int(sizes["train"]),
            "val_samples": int(sizes["val"]),
            "test_samples": int(sizes["test"]),
            "input_shape": None if shape is None else list(shape),
            "num_classes": self.num_classes or None,
            **self.details(),
        }


@dataclass
class ArrayDataset(DescribedSplits):
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

    @property
    def sizes(self) -> dict[str, int]:
        """Samples per split (``val`` 0 without validation data)."""
        return {
            "train": int(len(self.x_train)),
            "val": int(len(self.x_val)) if self.x_val is not None else 0,
            "test": int(len(self.x_test)),
        }

    @property
    def sample_shape(self) -> tuple[int, ...] | None:
        return tuple(self.x_train.shape[1:]) if self.x_train.ndim > 1 else None

    def order_entry(self) -> dict[str, Any]:
        return {"order": self.order}

    def details(self) -> dict[str, Any]:
        return dict(self.extra)

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, labels) of ``train``, ``val`` or ``test``.

        Raises:
            ValueError: ``val`` of a dataset without validation data.
        """
        x, y = {
            "train": (self.x_train, self.y_train),
            "val": (self.x_val, self.y_val),
            "test": (self.x_test, self.y_test),
        }[split]
        if x is None:
            raise ValueError(f"{self.name} has no validation data (data.validation={self.validation!r})")
        return x, y

    def batches(
        self,
        split: str,
        batch_size: int,
        shuffle: bool = False,
        target: Callable[[Any], Any] | None = None,
        seed: int | None = None,
    ) -> tf.data.Dataset:
        """The split's arrays (numbers) as tf.data batches, ``batch_size`` rows at a time in
        order (or shuffled every epoch from ``seed``), the last one partial."""
        x, y = self.split(split)
        batches = array_batches(x, y, batch_size, shuffle=shuffle, seed=seed)
        return batches if target is None else batches.map(lambda inputs, labels: (inputs, target(labels)))

    def read(self, reader: SplitReader[T]) -> T:
        return reader.arrays(self)

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


@dataclass
class StreamDataset(DescribedSplits):
    """Train / validation / test splits as unbatched tf.data streams of single samples.

    Class-folder trees (:mod:`dlab.data.modalities.folders`) stream (uint8 image, label),
    image + mask trees (:mod:`dlab.data.modalities.segmentation`) (uint8 image, uint8 mask).
    Training asks :meth:`batches` for what ``model.fit`` takes; the counts are known up
    front (the files were listed), so steps per epoch and samples per second are exact.

    Attributes:
        splits: ``train``, ``val``, ``test`` -> a cached, unbatched tf.data.Dataset.
        sizes: samples per split.
        image_shape: (height, width, channels) of every image.
        cache: where the streams are cached after the first pass (``data.cache``).
        seed: shuffles the training stream.
        split_labels: each split's labels, for the split check (None: masks, not labels).
    """

    name: str
    source: str
    location: str | None
    splits: dict[str, Any]
    sizes: dict[str, int]
    class_names: list[str]
    image_shape: tuple[int, int, int]
    validation: str
    cache: str = "memory"
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    split_labels: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.image_shape)

    def details(self) -> dict[str, Any]:
        return {
            "class_names": self.class_names,
            "pipeline": f"tf.data, cache: {self.cache}, prefetch",
            **self.extra,
        }

    def __getattr__(self, name: str) -> Any:
        """Only for attributes a StreamDataset lacks: asked for arrays, say which experiments read it.

        Raises:
            NotArraysError: ``x_train`` ... ``y_test``, which an experiment for arrays reads.
            AttributeError: any other missing attribute.
        """
        if name in ARRAY_ATTRIBUTES:
            readers = (
                "the segmentation experiment (segmentation-pets)"
                if self.extra.get("task") == "segmentation"
                else "folder_convnet or transfer (convnet-dogs-vs-cats, vgg16-*)"
            )
            raise NotArraysError(
                f"data.dataset={self.name} is streamed from its files with tf.data, not held as "
                f"NumPy arrays ({name}), and this experiment reads arrays. Train on it with "
                f"{readers}, or give this experiment an array dataset."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def batches(self, split: str, batch_size: int, shuffle: bool = False, target=None) -> tf.data.Dataset:
        """``split`` batched and prefetched for fit/evaluate/predict.

        Args:
            shuffle: reshuffle every epoch (training); the buffer holds at most 1,024
                samples (a tree's file list was already shuffled once when it was read).
            target: maps a batch of labels to what the loss wants (a column, one-hot).
        """
        import tensorflow as tf

        dataset = self.splits[split]
        if shuffle:
            dataset = dataset.shuffle(
                min(self.sizes[split], 1024), seed=self.seed, reshuffle_each_iteration=True
            )
        dataset = dataset.batch(batch_size)
        if target is not None:
            dataset = dataset.map(lambda x, y: (x, target(y)), num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def read(self, reader: SplitReader[T]) -> T:
        return reader.batches(self)


@dataclass
class BatchedDataset(DescribedSplits):
    """Train / validation / test splits as batched ``tf.data.Dataset``s of (inputs, targets).

    For samples that are cut on the fly instead of held as arrays: the windows of a time
    series (:func:`dlab.data.datasets.jena.window_splits`), a text's character subsequences
    (:func:`dlab.data.modalities.characters.character_splits`). ``model.fit`` and
    ``evaluate`` read them batch by batch.

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
    def name(self) -> str:
        return self.rows.name

    @property
    def source(self) -> str:
        return self.rows.source

    @property
    def location(self) -> str | None:
        return self.rows.location

    @property
    def validation(self) -> str:
        return self.rows.validation

    @property
    def num_classes(self) -> int:
        return self.rows.num_classes

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": self.train_samples, "val": self.val_samples, "test": self.test_samples}

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.input_shape)

    def order_entry(self) -> dict[str, Any]:
        return self.rows.order_entry()

    def details(self) -> dict[str, Any]:
        """The rows' own fields, then how many rows each split had, then the batches' fields."""
        rows = self.rows.sizes
        return {
            **self.rows.details(),
            "rows_per_split": {"train": rows["train"], "val": rows["val"], "test": rows["test"]},
            **self.extra,
        }

    def batches(self, split: str, batch_size: int, shuffle: bool = False, target: Any = None) -> Any:
        """``split`` for fit/evaluate: already batched (and, for train, shuffled) when it was cut.

        The arguments exist so that training reads every dataset the same way; the samples
        were batched with ``train.batch_size`` when they were cut.
        """
        return {"train": self.train, "val": self.val, "test": self.test}[split]

    def read(self, reader: SplitReader[T]) -> T:
        return reader.batches(self)
