"""Breast-cancer diagnosis (Wisconsin): 569 rows, 30 numeric features, benign/malignant.

Sources: ``builtin`` is the real table bundled with scikit-learn (no download);
``file`` reads any CSV with a header and a binary ``data.target`` column, so the
same experiment runs on the user's own table; ``synthetic`` makes a twin with
the same shape and a linearly learnable label. The test split is held out with
``data.test_split`` and the seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dlab.data import ArrayDataset, require_path, require_source
from dlab.data.modalities.tabular import holdout, read_csv_table
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig

ROWS, FEATURES = 569, 30


@dataset("breast_cancer")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """Load the table from ``config.source`` and hold out the test split."""
    require_source(config, ("builtin", "file", "synthetic"), "no keras download exists")
    location = None
    if config.source == "builtin":
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer()
        x, y = bunch.data, bunch.target.astype(np.int64)
        features, classes = [str(f) for f in bunch.feature_names], [str(c) for c in bunch.target_names]
        location = "sklearn.datasets.load_breast_cancer"
    elif config.source == "file":
        path = require_path(config, "a CSV with a header row and a data.target column", kind="file")
        x, y, features, classes = read_csv_table(path, config.target)
        location = str(path)
    else:
        x, y, features, classes = synthetic_table(config.train_samples or ROWS, seed)
    (x_train, y_train), (x_test, y_test) = holdout(x, y, config.test_split, seed)
    return ArrayDataset(
        name=config.dataset,
        source=config.source,
        location=location,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=classes,
        extra={"feature_names": features},
    )


def synthetic_table(rows: int, seed: int):
    """A twin of the real table: 30 positive, correlated features; a noisy linear label."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(rows, 5))
    mixing = rng.uniform(0.2, 1.0, size=(5, FEATURES))
    x = np.abs(base @ mixing + 0.3 * rng.normal(size=(rows, FEATURES))) * 10
    score = base[:, 0] - 0.5 * base[:, 1] + 0.3 * rng.normal(size=rows)
    y = (score > np.quantile(score, 0.37)).astype(np.int64)  # about 63% benign, as in the real set
    return x, y, [f"feature_{i}" for i in range(FEATURES)], ["malignant", "benign"]
