"""Your own arrays: an ``.npz`` of x/y arrays, no dataset module needed.

``data: {dataset: npz, path: mine.npz}`` reads either layout dlab already reads for the
Keras datasets:

- ``x_train, y_train, x_test, y_test`` (as mnist.npz): the file's own split. Its order is
  kept unless the labels come in blocks of one class, as a file written class by class
  does; then each split is shuffled with the run's seed (as for mnist.npz).
- ``x, y`` (as boston_housing.npz, reuters.npz): ``data.test_split`` of the examples is held
  out as the test split, drawn with the seed and stratified by class for a classifier; the
  training examples come in a seeded random order.

An optional ``class_names`` array (text) names the classes, index = label. The task is
``data.task``, or inferred like the CSV's: text or boolean labels, and integer labels with at
most :data:`~dlab.data.datasets.own_tables.MAX_INFERRED_CLASSES` distinct values, are classes;
float labels (and integers with more values) are a regression. Class labels are integers
0, 1, 2 ... (or one-hot rows, or text: then the sorted values are the classes).

``x`` keeps its shape: uint8 images ``(N, H, W, C)`` stay so, ``(N, H, W)`` get the channel
axis (``(N, H, W, 1)``), feature rows ``(N, F)`` become float32 (the builder experiment
standardizes them with a Normalization layer adapted on the training rows, as a CSV's).
Every value is checked: NaN and infinities are refused with their position, labels must
be whole, non-negative numbers. Arrays of Python objects (``dtype=object``, stored with
pickle) are refused: a pickle can run code when it is read, and dlab never reads one from
a user's file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dlab.data.checks.splits import shuffle_if_grouped
from dlab.data.checks.values import check_finite, check_labels
from dlab.data.contract import ArrayDataset
from dlab.data.datasets.own_tables import MAX_INFERRED_CLASSES, holdout, own_path
from dlab.data.formats.keras_files import SPLIT_KEYS, XY_KEYS, check_same_length
from dlab.data.formats.npz import open_npz
from dlab.data.registry import dataset
from dlab.errors import DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig

CLASS_NAMES_KEY = "class_names"
LAYOUTS = "x_train, y_train, x_test, y_test (as mnist.npz) or x, y (as boston_housing.npz)"


@dataset("npz")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """The arrays of the .npz at ``data.path``, split into train and test and checked."""
    path = own_path(config, f"an .npz with {LAYOUTS}", "file")
    arrays = read_arrays(path)
    if all(key in arrays for key in SPLIT_KEYS):
        layout = f"{path.name}: x_train, y_train, x_test, y_test (the file's own test split)"
        xs = {"train": arrays["x_train"], "test": arrays["x_test"]}
        ys = {"train": arrays["y_train"], "test": arrays["y_test"]}
    elif all(key in arrays for key in XY_KEYS):
        layout = f"{path.name}: x, y ({config.test_split:g} held out as the test split)"
        xs, ys = {"all": arrays["x"]}, {"all": arrays["y"]}
    else:
        raise DataError(
            f"{path} has the arrays {', '.join(arrays) or 'none'}; data.dataset=npz reads "
            f"{LAYOUTS}. Save them with numpy.savez(FILE, x=..., y=...)."
        )
    for split in xs:
        name = "" if split == "all" else f"_{split}"
        check_same_length(path, xs[split], ys[split], f"x{name}", f"y{name}")
        check_finite(path, f"x{name}", xs[split])
    task = config.task or infer_task(
        np.concatenate([labels_column(path, y, split) for split, y in ys.items()])
    )
    encoded, class_names = encode_labels(path, ys, task, arrays.get(CLASS_NAMES_KEY))
    inputs = {split: sample_arrays(path, x, split) for split, x in xs.items()}
    if "train" in inputs and inputs["train"].shape[1:] != inputs["test"].shape[1:]:
        raise DataError(
            f"{path}: x_train holds examples of shape {xs['train'].shape[1:]} and x_test of shape "
            f"{xs['test'].shape[1:]}; a model reads one shape. Save both splits alike."
        )
    if "all" in inputs:
        x, y = inputs["all"], encoded["all"]
        train, test = holdout(y, task, config.test_split, seed, what="examples")
        test = test[np.random.default_rng(seed + 2).permutation(len(test))]  # not class by class
        x_train, y_train, x_test, y_test = x[train], y[train], x[test], y[test]
        order = f"shuffled with seed {seed}, {len(test)} examples held out as the test split"
        order += " (stratified by class)" if task == "classification" else ""
    else:
        x_train, y_train, x_test, y_test = inputs["train"], encoded["train"], inputs["test"], encoded["test"]
        notes = []
        if task == "classification":
            x_train, y_train, train_note = shuffle_if_grouped(x_train, y_train, seed, "training")
            x_test, y_test, test_note = shuffle_if_grouped(x_test, y_test, seed + 1, "test")
            notes = [note for note in (train_note, test_note) if note]
        order = "; ".join(notes) or "the file's order (as keras.datasets.mnist keeps mnist.npz)"
    extra: dict[str, Any] = {
        "task": task,
        "task_from": "data.task" if config.task else f"inferred from the labels ({ys_dtype(ys)})",
        "layout": layout,
    }
    if x_train.ndim == 2:  # feature rows: read by column (x0, x1 ...) as a table's
        extra["feature_names"] = [f"x{i}" for i in range(x_train.shape[1])]
        extra["categories"] = {}
    return ArrayDataset(
        name=config.dataset,
        source="file",
        location=str(path),
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=class_names,
        order=order,
        extra=extra,
    )


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the .npz, without pickle.

    Raises:
        DataError: not an .npz, or an array of Python objects (named, with what to save instead).
    """
    arrays: dict[str, np.ndarray] = {}
    with open_npz(path) as archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError as error:
                if "pickle" not in str(error):
                    raise
                raise DataError(
                    f"{path}: the array '{key}' holds Python objects (dtype=object), which "
                    "NumPy stores with pickle, and reading a pickle can run code: dlab does not "
                    "read them from your files. Save arrays of numbers (or text) instead: "
                    f"np.asarray({key}, dtype=np.float32), pad ragged word-index lists to one "
                    "length first (keras.utils.pad_sequences)."
                ) from None
    return arrays


def labels_column(path: Path, y: np.ndarray, split: str) -> np.ndarray:
    """The labels as one value per example: (N,), (N, 1) or one-hot (N, K) rows.

    Raises:
        DataError: another shape (several outputs per example).
    """
    y = np.asarray(y)
    name = "y" if split == "all" else f"y_{split}"
    if y.ndim == 1:
        return y
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim == 2 and y.shape[1] > 1 and _one_hot(y):
        return y.argmax(axis=1)
    raise DataError(
        f"{path}: {name} has shape {y.shape}; dlab reads one label or value per example: (N,), "
        "(N, 1) or one-hot rows (N, classes)."
    )


def _one_hot(y: np.ndarray) -> bool:
    if not (y.dtype == bool or np.issubdtype(y.dtype, np.number)):
        return False
    values = y.astype(np.float64)
    return bool(np.all((values == 0) | (values == 1)) and np.all(values.sum(axis=1) == 1))


def ys_dtype(ys: dict[str, np.ndarray]) -> str:
    return ", ".join(sorted({str(np.asarray(y).dtype) for y in ys.values()}))


def infer_task(labels: np.ndarray) -> str:
    """``classification`` for text, booleans and integers with few distinct values; ``regression``
    for floats and integers with many values (as the CSV infers it)."""
    if labels.dtype == bool or labels.dtype.kind in "USO":
        return "classification"
    if np.issubdtype(labels.dtype, np.integer):
        return "classification" if len(np.unique(labels)) <= MAX_INFERRED_CLASSES else "regression"
    return "regression"


def encode_labels(
    path: Path, ys: dict[str, np.ndarray], task: str, names: np.ndarray | None
) -> tuple[dict[str, np.ndarray], list[str] | None]:
    """Each split's labels as int64 class indices (and the class names), or float32 values.

    Raises:
        DataError: labels that are not whole, non-negative numbers (the position and value);
            text labels for a regression; a class_names array too short for the labels.
    """
    columns = {split: labels_column(path, y, split) for split, y in ys.items()}
    label = {split: ("y" if split == "all" else f"y_{split}") for split in ys}
    if task == "regression":
        for split, y in columns.items():
            if not (y.dtype == bool or np.issubdtype(y.dtype, np.number)):
                raise DataError(
                    f"{path}: {label[split]} holds {y.dtype} values, so it cannot be a regression "
                    "target. Remove data.task=regression, or save numbers."
                )
            check_finite(path, label[split], y)
        return {split: y.astype(np.float32) for split, y in columns.items()}, None
    if any(y.dtype.kind in "US" for y in columns.values()):  # text labels: the sorted values
        values = np.unique(np.concatenate([y.astype(str) for y in columns.values()]))
        encoded = {
            split: np.searchsorted(values, y.astype(str)).astype(np.int64) for split, y in columns.items()
        }
        return encoded, [str(value) for value in values]
    for split, y in columns.items():
        check_labels(path, label[split], y)
        negative = y.astype(np.float64) < 0 if y.dtype != bool else np.zeros(len(y), bool)
        if negative.any():
            at = int(np.flatnonzero(negative)[0])
            raise DataError(
                f"{path}: {label[split]}[{at}] is {y[at].item()!r}; class labels must be whole numbers "
                "0, 1, 2 ... (the index of the class). Shift the labels, or set data.task=regression."
            )
    encoded = {split: y.astype(np.int64) for split, y in columns.items()}
    count = max((int(y.max()) for y in encoded.values() if len(y)), default=0) + 1
    if names is not None:
        names = np.asarray(names).reshape(-1)
        if names.dtype.kind not in "US" or len(names) < count:
            raise DataError(
                f"{path}: '{CLASS_NAMES_KEY}' must be text, one name per class ({count} for labels "
                f"0..{count - 1}); it has {len(names)} {names.dtype} values."
            )
        return encoded, [str(name) for name in names]
    if count < 2:
        raise DataError(f"{path}: every label is 0; a classifier needs at least two classes.")
    return encoded, [str(index) for index in range(count)]


def sample_arrays(path: Path, x: np.ndarray, split: str) -> np.ndarray:
    """The inputs as a model reads them: uint8 images kept (a channel axis added to (N, H, W)),
    everything else float32 (a vector per example becomes one column).

    Raises:
        DataError: inputs that are not numbers.
    """
    name = "x" if split == "all" else f"x_{split}"
    if not (x.dtype == bool or np.issubdtype(x.dtype, np.number)):
        raise DataError(f"{path}: {name} holds {x.dtype} values; the inputs must be numbers.")
    if x.ndim == 1:
        return x.astype(np.float32)[:, None]
    if x.dtype == np.uint8:
        return x[..., None] if x.ndim == 3 else x
    return x.astype(np.float32)
