"""IMDB movie reviews: 50,000 reviews (25,000 train, 25,000 test), positive or negative.

Documents are lists of word indices (Keras's encoding); ``data.num_words`` keeps
the most frequent words. The ``dir`` source reads the original aclImdb tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlab.data.modalities.text import TextDatasetSpec, load_sequences
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig
    from dlab.data import ArrayDataset

SPEC = TextDatasetSpec(
    name="imdb",
    class_names=("negative", "positive"),
    class_weights=(0.5, 0.5),
    train_size=25_000,
    test_size=25_000,
    vocabulary_size=88_584,
    median_length=174,  # the real reviews: median 174 words, mean ~234
    length_spread=0.75,
    keras_module="imdb",
    downloads=(("https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz", "imdb.npz"),),
    has_dir_source=True,
)


@dataset("imdb")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """Load IMDB reviews as word-index lists from ``config.source``."""
    return load_sequences(SPEC, config, seed)
