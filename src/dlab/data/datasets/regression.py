"""A one-feature linear regression problem from ``sklearn.datasets.make_regression``.

Generated from the seed (``builtin`` and ``synthetic`` are the same generator):
``data.samples`` points (default 200), ``data.noise`` Gaussian noise on the
target (default 0 in the config model; the config sets it), and ``data.test_split``
held out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dlab.data import ArrayDataset, require_source
from dlab.data.modalities.tabular import holdout
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig


@dataset("regression")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    from sklearn.datasets import make_regression

    require_source(config, ("builtin", "synthetic"), "it is generated from the seed")
    x, y = make_regression(
        n_samples=config.samples or 200, n_features=1, noise=config.noise, random_state=seed
    )
    (x_train, y_train), (x_test, y_test) = holdout(x, y.astype(np.float64), config.test_split, seed)
    return ArrayDataset(
        name=config.dataset,
        source=config.source,
        location="sklearn.datasets.make_regression",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        extra={"feature_names": ["x"]},
    )
