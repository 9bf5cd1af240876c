"""Class-folder image trees: Kaggle's dogs vs cats, and any ``DIR/<split>/<class>/`` tree.

``dogs_vs_cats`` is Deep Learning with Python's subset (2,000 / 1,000 / 2,000 images);
``image_folders`` is any tree in the same layout. Both are streamed with tf.data by
:mod:`dlab.data.modalities.folders` (their classes, sizes and download advice are its
``FOLDER_DATASETS``), read from ``dir`` or their ``synthetic`` twin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlab.data.modalities.folders import load_folder_dataset
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig
    from dlab.data import StreamDataset


@dataset("dogs_vs_cats", "image_folders")
def load_data(
    config: DataConfig, seed: int, image_size: int | None = None, channels: int = 3
) -> StreamDataset:
    """The tree at ``data.path`` (or its synthetic twin) as three cached tf.data streams.

    Args:
        image_size: resize every image to this square size (None: the dataset's own); a
            model that reads a fixed size passes it (``load_dataset(..., image_size=N)``).
    """
    return load_folder_dataset(config, seed, image_size=image_size, channels=channels)
