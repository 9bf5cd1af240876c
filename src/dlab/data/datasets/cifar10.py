"""CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 train, 10,000 test)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlab.data.modalities.images import ImageDatasetSpec, load_image_classification
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig
    from dlab.data import ArrayDataset

SPEC = ImageDatasetSpec(
    name="cifar10",
    image_shape=(32, 32, 3),
    class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    train_size=50_000,
    test_size=10_000,
    keras_module="cifar10",
    downloads=(
        ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-batches-py-target_archive"),
    ),
    label_column=True,
)


@dataset("cifar10")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """Load CIFAR-10 from ``config.source``; labels are uint8 of shape (N, 1) as in Keras."""
    return load_image_classification(SPEC, config, seed)
