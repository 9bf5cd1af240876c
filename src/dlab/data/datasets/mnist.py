"""MNIST: 70,000 28x28 grayscale handwritten digits (60,000 train, 10,000 test).

Images come as uint8 (N, 28, 28, 1) from every source (Keras returns (N, 28, 28);
the channel axis is added so convolutional and dense models read the same
arrays), labels as uint8 (N,).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlab.data.modalities.images import ImageDatasetSpec, load_image_classification
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig
    from dlab.data import ArrayDataset

SPEC = ImageDatasetSpec(
    name="mnist",
    image_shape=(28, 28, 1),
    class_names=tuple(str(digit) for digit in range(10)),
    train_size=60_000,
    test_size=10_000,
    keras_module="mnist",
    downloads=(("https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz", "mnist.npz"),),
)


@dataset("mnist")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    """Load MNIST from ``config.source``."""
    return load_image_classification(SPEC, config, seed)
