"""Credit-card fraud (Kaggle, ULB): 284,807 transactions, 30 features + Class, 0.17% fraud.

The real file is Kaggle-gated, so it comes in through ``file`` only (the CSV
as downloaded: Time, V1..V28, Amount, Class). ``synthetic`` makes a twin: the
same columns and size, 0.17% fraud rows that sit off the normal manifold (and
so reconstruct worse). The test split is held out with ``data.test_split`` and
the run's seed (the report: 20%, random_state 2021).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dlab.data import ArrayDataset, require_path, require_source
from dlab.data.modalities.tabular import read_csv_table
from dlab.data.registry import dataset
from dlab.errors import DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig

KAGGLE = "https://www.kaggle.com/datasets/mlg-ulb/creditcardfraud"
COLUMNS = ["Time", *(f"V{i}" for i in range(1, 29)), "Amount"]
ROWS, FRAUD_SHARE = 284_807, 0.00172


@dataset("creditcard")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    from sklearn.model_selection import train_test_split

    require_source(config, ("file", "synthetic"), "the real data is Kaggle-gated: download it")
    location = None
    if config.source == "file":
        if not config.path:
            raise DataError(
                f"The credit-card fraud data is not downloadable without a Kaggle account: get "
                f"creditcard.csv from {KAGGLE} and run with --set data.path=/path/to/creditcard.csv "
                "(data.source=file, data.target=Class). To try the pipeline, add --smoke."
            )
        path = require_path(config, "creditcard.csv", kind="file")
        x, y, features, classes = read_csv_table(path, config.target or "Class")
        if len(classes) != 2:
            raise DataError(
                f"{path}: the {config.target or 'Class'} column must hold two values "
                f"(0 normal, 1 fraud); it holds {', '.join(classes)}."
            )
        location = str(path)
    else:
        x, y = synthetic_transactions(config.samples or ROWS, seed)
        features = COLUMNS
    x_train, x_test, y_train, y_test = train_test_split(
        x.astype(np.float32), y.astype(np.int64), test_size=config.test_split, random_state=seed
    )
    return ArrayDataset(
        name=config.dataset,
        source=config.source,
        location=location,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=["normal", "fraud"],
        extra={"feature_names": list(features)},
    )


def synthetic_transactions(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Time, V1..V28 (a low-rank normal manifold plus noise), Amount; fraud rows break the manifold."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(rows) < FRAUD_SHARE
    if fraud.sum() < 12:  # small (smoke-sized) twins still need frauds in every split
        fraud[rng.choice(rows, size=min(12, rows), replace=False)] = True
    latent = rng.normal(size=(rows, 5))
    mixing = rng.normal(size=(5, 28)) / np.sqrt(5)
    v = latent @ mixing + 0.3 * rng.normal(size=(rows, 28))
    v[fraud] += rng.normal(3.0, 1.0, size=(int(fraud.sum()), 28)) * rng.choice([-1, 1], 28)
    time = np.sort(rng.uniform(0, 172_792, rows))
    amount = rng.lognormal(3.0, 1.4, rows)
    return np.column_stack([time, v, amount]), fraud.astype(np.int64)
