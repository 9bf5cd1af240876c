"""The lab-report CNN on CIFAR-10: three conv layers, two dense, logits out.

Conv2D(32) -> MaxPool -> Conv2D(64) -> MaxPool -> Conv2D(64) -> Flatten ->
Dense(64) -> Dense(10) logits: 122,570 parameters. Pixels are scaled by 1/255
inside the model (a Rescaling layer has no weights), so the saved model takes
raw 0-255 images and the uint8 arrays are never copied to float.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from dlab.config import StrictModel
from dlab.experiment import KerasExperiment
from dlab.registry import register

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import ArrayDataset


class CnnModelConfig(StrictModel):
    """The ``model`` section of cnn-cifar10."""

    filters: list[int] = Field(default_factory=lambda: [32, 64, 64], min_length=1,
                               description="Filters of each 3x3 conv layer; a 2x2 max-pool "
                               "follows every conv layer but the last.")
    kernel_size: int = Field(3, ge=1, description="Square kernel size of every conv layer.")
    dense_units: int = Field(64, ge=1, description="Units of the hidden dense layer.")
    activation: str = Field("relu", description="Activation of the hidden layers.")


@register("cnn_cifar10")
class CnnCifar10(KerasExperiment):
    """A small convolutional classifier on 32x32 colour images."""

    family = "convolutional networks"
    ModelConfig = CnnModelConfig
    smoke_overrides = {"data.train_samples": 1024, "data.test_samples": 256}

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        import keras
        from keras import layers

        settings: CnnModelConfig = config.model
        model = keras.Sequential(name=config.name.replace("-", "_"))
        model.add(keras.Input(shape=data.x_train.shape[1:]))
        model.add(layers.Rescaling(1.0 / 255))
        for index, filters in enumerate(settings.filters):
            model.add(layers.Conv2D(filters, settings.kernel_size,
                                    activation=settings.activation))
            if index < len(settings.filters) - 1:
                model.add(layers.MaxPooling2D(2))
        model.add(layers.Flatten())
        model.add(layers.Dense(settings.dense_units, activation=settings.activation))
        logits = config.train.from_logits
        model.add(layers.Dense(data.num_classes, activation=None if logits else "softmax"))
        return model
