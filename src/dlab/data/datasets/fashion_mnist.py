"""Fashion-MNIST: 70,000 28x28 grayscale clothing images in 10 classes (Zalando).

Same shapes and sources as MNIST: uint8 images (N, 28, 28, 1), uint8 labels (N,).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlab.data.modalities.images import ImageDatasetSpec, load_image_classification
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig
    from dlab.data import ArrayDataset

_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)

SPEC = ImageDatasetSpec(
    name="fashion_mnist",
    image_shape=(28, 28, 1),
    class_names=(
        "t-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "ankle boot",
    ),
    train_size=60_000,
    test_size=10_000,
    keras_module="fashion_mnist",
    downloads=tuple((_BASE + name, f"fashion-mnist/{name}") for name in _FILES),
)


@dataset("fashion_mnist")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """Load Fashion-MNIST from ``config.source``."""
    return load_image_classification(SPEC, config, seed)
