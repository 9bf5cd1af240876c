"""Reuters newswires: 11,228 short articles (8,982 train, 2,246 test) in 46 topics.

Documents are lists of word indices (Keras's encoding); the topics are very
unbalanced (two of them hold over half the articles), which the synthetic twin keeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlab.data.modalities.text import TextDatasetSpec, load_sequences
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig
    from dlab.data import ArrayDataset

# keras.datasets.reuters.get_label_names(), in label order
TOPICS = (
    "cocoa",
    "grain",
    "veg-oil",
    "earn",
    "acq",
    "wheat",
    "copper",
    "housing",
    "money-supply",
    "coffee",
    "sugar",
    "trade",
    "reserves",
    "ship",
    "cotton",
    "carcass",
    "crude",
    "nat-gas",
    "cpi",
    "money-fx",
    "interest",
    "gnp",
    "meal-feed",
    "alum",
    "oilseed",
    "gold",
    "tin",
    "strategic-metal",
    "livestock",
    "retail",
    "ipi",
    "iron-steel",
    "rubber",
    "heat",
    "jobs",
    "lei",
    "bop",
    "zinc",
    "orange",
    "pet-chem",
    "dlr",
    "gas",
    "silver",
    "wpi",
    "hog",
    "lead",
)
# approximate training-set counts per topic (earn 3,159 and acq 1,949 dominate), for the twin
_COUNTS = (
    55,
    432,
    74,
    3159,
    1949,
    17,
    48,
    16,
    139,
    101,
    124,
    390,
    49,
    172,
    26,
    20,
    444,
    39,
    66,
    549,
    269,
    100,
    15,
    41,
    62,
    92,
    24,
    15,
    48,
    19,
    45,
    39,
    32,
    11,
    50,
    10,
    49,
    19,
    19,
    24,
    36,
    30,
    13,
    21,
    12,
    18,
)

SPEC = TextDatasetSpec(
    name="reuters",
    class_names=TOPICS,
    class_weights=tuple(float(c) for c in _COUNTS),
    train_size=8_982,
    test_size=2_246,
    vocabulary_size=30_979,
    median_length=95,  # the real newswires: median 95 words, mean ~146
    length_spread=0.8,
    keras_module="reuters",
    downloads=(("https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz", "reuters.npz"),),
)


@dataset("reuters")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """Load Reuters newswires as word-index lists from ``config.source``."""
    return load_sequences(SPEC, config, seed)
