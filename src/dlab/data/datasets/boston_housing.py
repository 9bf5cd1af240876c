"""Boston housing prices: 506 suburbs, 13 features, median value in $1000s (404 train, 102 test).

Sources: ``keras`` (``keras.datasets.boston_housing``: the 506 rows permuted with
seed 113, the last ``data.test_split`` = 0.2 held out: 404/102); ``file``: the
``boston_housing.npz`` Keras downloads (``x`` and ``y``, split exactly as Keras
splits them), an ``.npz`` with x_train/y_train/x_test/y_test, or a CSV with
a header and a ``data.target`` column (``data.test_split`` held out at random);
``synthetic``: 404/102 x 13 with a target that is partly linear, partly not.
Features are returned raw: models standardize them with a ``Normalization``
layer adapted on the training data they are fitted on (per fold in k-fold).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dlab.data import ArrayDataset, require_path, require_source
from dlab.data.checks.values import check_finite
from dlab.data.formats.cache import download
from dlab.data.formats.keras_files import KERAS_ORDER, read_boston_npz
from dlab.data.modalities.tabular import holdout, read_csv_table
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
FEATURES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT")


@dataset("boston_housing")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    require_source(config, ("keras", "file", "synthetic"), "no built-in copy exists")
    location: str | None = None
    extra: dict = {"task": "regression"}
    order = "random"
    if config.source == "keras":
        import keras

        (x_train, y_train), (x_test, y_test) = download(
            "boston_housing",
            [(URL, "boston_housing.npz")],
            "run with --set data.source=file --set data.path=boston_housing.npz (the file "
            "Keras downloads; or a CSV with --set data.target=COLUMN)",
            lambda: keras.datasets.boston_housing.load_data(test_split=config.test_split),
        )
        location, order = URL, KERAS_ORDER
    elif config.source == "file":
        path = require_path(
            config,
            "boston_housing.npz (x and y, as Keras downloads it), an .npz "
            "with x_train, y_train, x_test, y_test, or a CSV with data.target",
            kind="file",
        )
        (x_train, y_train), (x_test, y_test), layout, order = _from_file(path, config, seed)
        location, extra = str(path), {**extra, "layout": layout}
    else:
        (x_train, y_train), (x_test, y_test) = synthetic_housing(
            config.train_samples or 404, config.test_samples or 102, seed
        )
    return ArrayDataset(
        name=config.dataset,
        source=config.source,
        location=location,
        x_train=np.asarray(x_train, dtype=np.float32),
        y_train=np.asarray(y_train, dtype=np.float32),
        x_test=np.asarray(x_test, dtype=np.float32),
        y_test=np.asarray(y_test, dtype=np.float32),
        extra=extra,
        order=order,
    )


def _from_file(path: Path, config: DataConfig, seed: int):
    """(train, test, layout, order) from an .npz (either Keras layout) or a CSV."""
    if path.suffix == ".npz":
        loaded = read_boston_npz(path, config.test_split)
        for name, array in zip(
            ("x_train", "y_train", "x_test", "y_test"), (*loaded.train, *loaded.test), strict=True
        ):
            check_finite(path, name, array)
        return loaded.train, loaded.test, loaded.layout, loaded.order
    x, y, _, _ = read_csv_table(path, config.target, numeric_target=True)
    train, test = holdout(x, y, config.test_split, seed)
    return (
        train,
        test,
        f"{path.name}: a CSV table, target column {config.target}",
        "the rows permuted with the run's seed, then the test split held out",
    )


def synthetic_housing(n_train: int, n_test: int, seed: int):
    """13 features on different scales; price = linear part + a nonlinear part + noise."""
    rng = np.random.default_rng(seed)
    scales = rng.uniform(0.5, 100, 13)

    def make(n: int):
        z = rng.normal(size=(n, 13))
        price = (
            22
            + 4 * z[:, 5]
            - 3 * z[:, 12]
            + 2 * np.tanh(z[:, 0] * z[:, 7])
            + 1.5 * z[:, 4] ** 2
            + rng.normal(0, 1.5, n)
        )
        return z * scales + scales, np.clip(price, 5, 50)

    return make(n_train), make(n_test)
