"""Your own table: a CSV (or Parquet) file with a target column, no dataset module needed.

``data: {dataset: csv, path: houses.csv, target: price}`` trains on every other column;
``data.features`` chooses some. Columns of text (``district: north``) are one-hot encoded
(``data.categorical: onehot``, the default) or refused (``refuse``). The task is
classification when the target holds text, booleans or at most
:data:`MAX_INFERRED_CLASSES` distinct integers, regression otherwise; ``data.task``
states it. The test split is ``data.test_split`` of the rows, drawn with the seed and
stratified by class; the validation split is drawn from what is left, as for every
dataset. Standardization is not done here: the validation rows are not chosen yet, and
the statistics must come from the training rows only (the builder experiment puts a
``Normalization`` layer adapted on them in front of the model, so the saved model reads
raw rows).

A file sorted by its target (all of class 0, then all of class 1) is common in the wild:
the rows are shuffled before anything is split, and the split check counts every class.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dlab.data.checks.splits import stratified_indices
from dlab.data.checks.values import check_columns_finite
from dlab.data.contract import ArrayDataset
from dlab.data.registry import dataset
from dlab.errors import DataError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

    from dlab.config import DataConfig

MAX_INFERRED_CLASSES = 20
"""An integer target with at most this many distinct values is read as class labels."""

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


@dataset("csv", "table")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """The table at ``data.path`` split into train and test arrays (float32 features)."""
    path = _table_path(config)
    table = read_table(path)
    target = _target_column(config, table, path)
    features = _feature_columns(config, table, target, path)
    _refuse_missing(table, [*features, target], path)
    task = config.task or infer_task(table[target])
    x, feature_names, categories = encode_features(table[features], config.categorical, path)
    y, class_names = encode_target(table[target], task, path)
    train, test = holdout(y, task, config.test_split, seed)
    return ArrayDataset(
        name=config.dataset,
        source="file",
        location=str(path),
        x_train=x[train],
        y_train=y[train],
        x_test=x[test],
        y_test=y[test],
        class_names=class_names,
        order=f"shuffled with seed {seed}, {len(test)} rows held out as the test split",
        extra={
            "task": task,
            "target": target,
            "feature_names": feature_names,
            "categories": categories,
        },
    )


def _table_path(config: DataConfig) -> Path:
    return own_path(config, "a CSV or Parquet file with a header row", "file")


def own_path(config: DataConfig, what: str, kind: str, sources: tuple[str, ...] = ("file",)) -> Path:
    """``data.path`` of a dataset read from the user's own file or folder (csv, npz, image_folder,
    text_folder), as an existing Path of ``kind`` ("file" or "dir").

    ``data.source`` may be one of ``sources``, or left at the schema's ``keras`` (a config that
    names one of these datasets means its own file: there is nothing to download).

    Raises:
        DataError: another source, no path, or nothing of that kind at the path; the message
            says what to give.
    """
    noun = "folder" if kind == "dir" else "file"
    if config.source not in {*sources, "keras"}:
        raise DataError(
            f"data.dataset={config.dataset} reads your own {noun}: use data.source="
            f"{' or '.join(sources)} (got {config.source}) and data.path={noun.upper()}."
        )
    if not config.path:
        raise DataError(
            f"data.dataset={config.dataset} needs data.path: {what}. Add --set data.path={noun.upper()}."
        )
    path = Path(config.path).expanduser()
    if kind == "dir" and not path.is_dir():
        state = "is a file" if path.is_file() else "does not exist"
        raise DataError(f"data.path '{config.path}' {state}; expected a folder: {what}.")
    if kind == "file" and not path.is_file():
        state = "is a folder" if path.is_dir() else "is not a file"
        raise DataError(f"data.path '{config.path}' {state} (expected {what}).")
    return path


def read_table(path: Path) -> pd.DataFrame:
    """The file as a DataFrame: Parquet by its suffix, else CSV (tab-separated for .tsv).

    Raises:
        DataError: pandas cannot read it, or it has no rows.
    """
    import pandas as pd  # lazy: pandas costs a second of start-up

    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except ImportError as error:  # Parquet without pyarrow
        raise DataError(f"Cannot read {path}: {error}. Install pyarrow, or save the table as CSV.") from None
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise DataError(f"Cannot read {path} as a table with a header row ({error}).") from None
    if table.empty:
        raise DataError(f"{path} has a header but no rows: nothing to train on.")
    table.columns = [str(column) for column in table.columns]
    return table


def _target_column(config: DataConfig, table: pd.DataFrame, path: Path) -> str:
    columns = list(table.columns)
    if not config.target:
        raise DataError(
            f"data.target is not set: name the column of {path} to predict with "
            f"--set data.target=COLUMN. Columns: {', '.join(columns)}."
        )
    if config.target not in columns:
        raise DataError(
            f"{path} has no column '{config.target}' (data.target).{did_you_mean(config.target, columns)}"
            f" Columns: {', '.join(columns)}."
        )
    return config.target


def _feature_columns(config: DataConfig, table: pd.DataFrame, target: str, path: Path) -> list[str]:
    columns = list(table.columns)
    if config.features is None:
        return [column for column in columns if column != target]
    unknown = [name for name in config.features if name not in columns]
    if unknown:
        hint = did_you_mean(unknown[0], columns)
        raise DataError(
            f"{path} has no column {', '.join(repr(name) for name in unknown)} (data.features).{hint} "
            f"Columns: {', '.join(columns)}."
        )
    if target in config.features:
        raise DataError(f"data.features lists the target column '{target}': a model would read the answer.")
    return list(config.features)


def _refuse_missing(table: pd.DataFrame, columns: list[str], path: Path) -> None:
    empty = [column for column in columns if table[column].isna().any()]
    if empty:
        rows = table.index[table[empty].isna().any(axis=1)]
        raise DataError(
            f"{path} has empty cells in {', '.join(empty)} (first in data row {int(rows[0]) + 1}); "
            "fill or drop them first."
        )


def infer_task(target: pd.Series) -> str:
    """``classification`` for text, booleans and few distinct integers; ``regression`` otherwise."""
    import pandas as pd  # lazy: see read_table

    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    values = target.to_numpy()
    whole = np.all(np.isfinite(values)) and np.all(np.equal(np.mod(values, 1), 0))
    return "classification" if whole and target.nunique() <= MAX_INFERRED_CLASSES else "regression"


def encode_features(
    features: pd.DataFrame, categorical: str, path: Path
) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    """Numbers as they are, text columns one-hot (``COLUMN=VALUE``, values sorted).

    Returns:
        The float32 matrix, its column names, and each one-hot column's categories.

    Raises:
        DataError: a text column under ``categorical: refuse``, or infinite numbers.
    """
    import pandas as pd  # lazy: see read_table

    text_columns = [
        column for column in features.columns if not pd.api.types.is_numeric_dtype(features[column])
    ]
    if text_columns and categorical == "refuse":
        raise DataError(
            f"{path}: feature columns must be numbers under data.categorical=refuse; these are not: "
            f"{', '.join(text_columns)}. Set data.categorical=onehot, or leave them out with data.features."
        )
    numeric = [column for column in features.columns if column not in text_columns]
    check_columns_finite(path, features, numeric)
    blocks, names, categories = [], [], {}
    for column in features.columns:
        if column in text_columns:
            values = features[column].astype(str)
            levels = sorted(values.unique())
            categories[column] = levels
            blocks.append((values.to_numpy()[:, None] == np.asarray(levels)[None, :]).astype(np.float32))
            names += [f"{column}={level}" for level in levels]
        else:
            blocks.append(features[column].to_numpy(dtype=np.float32)[:, None])
            names.append(column)
    return np.concatenate(blocks, axis=1), names, categories


def encode_target(target: pd.Series, task: str, path: Path) -> tuple[np.ndarray, list[str] | None]:
    """Class indices (sorted class values) and their names, or float32 values for a regression."""
    import pandas as pd  # lazy: see read_table

    if task == "regression":
        if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
            raise DataError(
                f"{path}: the target column '{target.name}' holds text, so it cannot be a regression "
                "target. Remove data.task=regression, or choose a numeric column."
            )
        check_columns_finite(path, target.to_frame(), [str(target.name)])
        return target.to_numpy(dtype=np.float32), None
    values, labels = np.unique(target.to_numpy(), return_inverse=True)
    if len(values) < 2:
        raise DataError(f"{path}: the target column '{target.name}' holds one value only ({values[0]!r}).")
    return labels.astype(np.int64), [str(value) for value in values]


def holdout(
    y: np.ndarray, task: str, test_split: float, seed: int, what: str = "rows"
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: the test ones drawn with ``seed``, stratified for classes; the
    training ones in a seeded random order (a file sorted by class comes out mixed).

    Raises:
        DataError: the split leaves no training (or no test) example.
    """
    count = max(1, int(round(len(y) * test_split)))
    if count >= len(y):
        raise DataError(
            f"data.test_split={test_split} leaves no training {what} out of {len(y)}: give more "
            "examples, or a smaller data.test_split."
        )
    if task == "classification":
        test = stratified_indices(y, count, seed)
    else:
        test = np.sort(np.random.default_rng(seed).permutation(len(y))[:count])
    train = np.setdiff1d(np.arange(len(y)), test)
    order = np.random.default_rng(seed + 1).permutation(len(train))  # a sorted file comes out mixed
    return train[order], test


def describe_columns(data: Any) -> dict[str, Any]:
    """What an inference spec needs to read raw rows again: features, target, categories."""
    return {
        "features": list(data.extra["feature_names"]),
        "target": data.extra["target"],
        "categories": dict(data.extra.get("categories") or {}),
    }
