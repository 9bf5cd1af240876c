"""Truth tables for the from-scratch neurons: AND, XOR and the 2-bit binary decoder.

These are the whole datasets (four rows each), so train and test are the same
table and every source gives the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dlab.data import ArrayDataset, require_source
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig

INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)

TABLES = {
    "logic_and": (np.array([0, 0, 0, 1]), ["0", "1"]),
    "logic_xor": (np.array([0, 1, 1, 0]), ["0", "1"]),
    # binary to decimal: 00 -> 0, 01 -> 1, 10 -> 2, 11 -> 3
    "binary_decoder": (np.array([0, 1, 2, 3]), ["0", "1", "2", "3"]),
}


@dataset("logic_and", "logic_xor", "binary_decoder")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """The four rows of ``config.dataset``; labels are integers (the decoder's are 0..3)."""
    require_source(config, ("builtin", "synthetic"), "the table is built in")
    labels, class_names = TABLES[config.dataset]
    return ArrayDataset(
        name=config.dataset,
        source=config.source,
        location=None,
        x_train=INPUTS.copy(),
        y_train=labels.copy(),
        x_test=INPUTS.copy(),
        y_test=labels.copy(),
        class_names=class_names,
        extra={"feature_names": ["x1", "x2"]},
    )
