"""Helpers shared by table-shaped datasets: hold-out splits, CSV tables, standardization."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlab.data.checks.values import check_columns_finite
from dlab.errors import DataError, did_you_mean


def holdout(x: np.ndarray, y: np.ndarray, test_split: float, seed: int):
    """Shuffle with ``seed`` and hold out ``test_split`` of the rows as the test split.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, int(round(len(x) * test_split)))
    test, train = order[:n_test], order[n_test:]
    if len(train) == 0:
        raise DataError(f"data.test_split={test_split} leaves no training rows out of {len(x)}.")
    return (x[train], y[train]), (x[test], y[test])


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale every array with the training mean and standard deviation (no test leakage)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return [(a - mean) / std for a in (train, *others)]


def read_csv_table(path: Path, target: str | None, numeric_target: bool = False):
    """Read a CSV with a header into numeric features and a target.

    Returns:
        ``(x, y, feature_names, class_names)``: x float64 (rows, features); y int labels
        0..K-1 in the sorted order of the target's values, or with ``numeric_target`` the
        target's numbers as float64 (regression; class_names is then empty).

    Raises:
        DataError: no target given, a target column that is not there (the message
            lists the columns), non-numeric feature columns or missing values.
    """
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise DataError(f"Cannot read {path} as a CSV file with a header row ({error}).") from None
    columns = [str(c) for c in table.columns]
    if not target:
        raise DataError(
            f"data.target is not set: name the label column of {path} with "
            f"--set data.target=COLUMN. Columns: {', '.join(columns)}."
        )
    if target not in table.columns:
        raise DataError(
            f"{path} has no column '{target}' (data.target).{did_you_mean(target, columns)}"
            f" Columns: {', '.join(columns)}."
        )
    features = table.drop(columns=[target])
    non_numeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise DataError(
            f"{path}: feature columns must be numbers; these are not: "
            f"{', '.join(non_numeric)}. Encode or drop them first."
        )
    if features.isna().any().any() or table[target].isna().any():
        missing = [str(c) for c in table.columns if table[c].isna().any()]
        raise DataError(f"{path} has empty cells in {', '.join(missing)}; fill or drop them first.")
    numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
    check_columns_finite(path, table, numeric)  # inf, 1e400: features and a numeric target
    if numeric_target:
        if not pd.api.types.is_numeric_dtype(table[target]):
            raise DataError(f"{path}: the target column '{target}' must hold numbers for a regression.")
        return (
            features.to_numpy(dtype=np.float64),
            table[target].to_numpy(dtype=np.float64),
            [str(c) for c in features.columns],
            [],
        )
    class_values, y = np.unique(table[target].to_numpy(), return_inverse=True)
    return (
        features.to_numpy(dtype=np.float64),
        y.astype(np.int64),
        [str(c) for c in features.columns],
        [str(v) for v in class_values],
    )
