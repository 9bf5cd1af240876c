"""Boston housing prices: 506 suburbs, 13 features, median value in $1000s (404 train, 102 test).

Sources: ``keras`` (``keras.datasets.boston_housing``, the 404/102 split it
ships); ``file``: an ``.npz`` with x_train/y_train/x_test/y_test, or a CSV with
a header and a ``data.target`` column (``data.test_split`` held out);
``synthetic``: 404/102 x 13 with a target that is partly linear, partly not.
Features are returned raw: models standardize them with a ``Normalization``
layer adapted on the training data they are fitted on (per fold in k-fold).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dlab.data import ArrayDataset, require_path, require_source
from dlab.data.cache import download
from dlab.data.tabular import holdout, read_csv_table
from dlab.errors import DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
FEATURES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT")


def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    require_source(config, ("keras", "file", "synthetic"), "no built-in copy exists")
    location: str | None = None
    if config.source == "keras":
        import keras

        (x_train, y_train), (x_test, y_test) = download(
            "boston_housing",
            [(URL, "boston_housing.npz")],
            "run with --set data.source=file --set data.path=boston.npz (or a CSV with "
            "--set data.target=COLUMN)",
            keras.datasets.boston_housing.load_data,
        )
        location = URL
    elif config.source == "file":
        path = require_path(
            config, "an .npz with x_train, y_train, x_test, y_test or a CSV with data.target", kind="file"
        )
        (x_train, y_train), (x_test, y_test) = _from_file(path, config, seed)
        location = str(path)
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
        extra={"task": "regression"},
    )


def _from_file(path: Path, config: DataConfig, seed: int):
    keys = ("x_train", "y_train", "x_test", "y_test")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                missing = [key for key in keys if key not in archive]
                if missing:
                    raise DataError(
                        f"{path} lacks {', '.join(missing)}; a boston_housing .npz needs {', '.join(keys)}."
                    )
                arrays = [archive[key].astype(np.float32) for key in keys]
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise DataError(f"Cannot read {path} as an .npz of numbers ({error}).") from None
        return (arrays[0], arrays[1]), (arrays[2], arrays[3])
    x, y, _, _ = read_csv_table(path, config.target, numeric_target=True)
    return holdout(x, y, config.test_split, seed)


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
