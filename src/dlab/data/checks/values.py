"""Checks on the values a dataset holds, made before anything trains.

A cast hides bad values: ``astype`` turns a NaN label into class 0 and 3.7 into class 3,
an ``inf`` feature (or ``1e400``, which is read as ``inf``) trains on NaN for every
epoch, and an empty training split "completes" with an untrained model. Each check
raises a :class:`~dlab.errors.DataError` (exit 2) naming the file, the array or
column, where the first bad value is, and the value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlab.errors import DataError


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.reshape(-1))[0])


def _position(array: np.ndarray, flat_index: int) -> str:
    """``[row]`` or ``[row, column ...]`` of a flat index, as the user would look it up."""
    index = np.unravel_index(flat_index, array.shape)
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def check_labels(where: Any, name: str, labels: np.ndarray) -> None:
    """Class labels must be whole numbers: refuse NaN, infinities and fractions.

    Raises:
        DataError: names ``where`` (a file), ``name`` (the array), the position and value.
    """
    labels = np.asarray(labels)
    if labels.dtype == bool or np.issubdtype(labels.dtype, np.integer):
        return
    if not np.issubdtype(labels.dtype, np.floating):
        raise DataError(
            f"{where}: {name} holds {labels.dtype} values; class labels must be integers 0, 1, 2 ..."
        )
    bad = ~np.isfinite(labels) | (labels != np.floor(labels))
    if bad.any():
        at = _first(bad)
        raise DataError(
            f"{where}: {name}{_position(labels, at)} is {labels.reshape(-1)[at].item()!r}; "
            "class labels must be whole numbers 0, 1, 2 ... (a cast would silently "
            "turn NaN into class 0 and 3.7 into class 3). Fix the labels and run "
            "again."
        )


def check_finite(where: Any, name: str, values: np.ndarray) -> None:
    """Refuse NaN and infinite numbers (``inf``, ``1e400``) in features or targets.

    Raises:
        DataError: names ``where``, ``name``, the position and the value.
    """
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating) or values.size == 0:
        return
    bad = ~np.isfinite(values)
    if bad.any():
        at = _first(bad)
        raise DataError(
            f"{where}: {name}{_position(values, at)} is {values.reshape(-1)[at].item()!r}; "
            "every value must be a finite number (1e400 is read as inf). Fix or drop "
            "it and run again."
        )


def check_columns_finite(where: Any, table: Any, columns: list[str]) -> None:
    """:func:`check_finite` for the numeric columns of a pandas table, by column name and row.

    Raises:
        DataError: the column, the row (counted from 1, as in a spreadsheet after the
            header) and the value.
    """
    for column in columns:
        values = np.asarray(table[column], dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            row = _first(bad)
            raise DataError(
                f"{where}: column '{column}', row {row + 1} holds {values[row].item()!r}; "
                "every value must be a finite number (1e400 is read as inf). Fix or "
                "drop it and run again."
            )


def check_not_empty(where: Any, x_train: Any) -> None:
    """A training split with no samples would "complete" with an untrained model.

    Raises:
        DataError: what to do about it.
    """
    if len(x_train) == 0:
        raise DataError(
            f"{where}: the training split is empty (0 samples), so nothing would be "
            "trained. Check the file (x_train / the CSV rows) and data.train_samples, "
            "data.validation and data.test_split."
        )
