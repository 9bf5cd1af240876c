"""Small convolutional classifiers: the lab-report CNNs on CIFAR-10 and MNIST.

Conv2D layers (3x3, ReLU) with max-pooling ``between`` them (cnn-cifar10,
convnet-mnist), ``after_each`` (cnn-mnist) or ``none`` (convnet-mnist-nopool),
then Flatten, optional hidden Dense layers and the classifier. Pixels are scaled
by 1/255 inside the model (a weightless Rescaling layer), so the saved model
takes raw 0-255 images and the uint8 arrays are never copied to float.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dlab.config import StrictModel
from dlab.framework.recipes import ImageClassifierExperiment
from dlab.framework.registry import register

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import ArrayDataset


class ConvNetConfig(StrictModel):
    """The ``model`` section of the small CNNs."""

    filters: list[int] = Field(
        default_factory=lambda: [32, 64, 64],
        min_length=1,
        description="Filters of each conv layer, in order.",
    )
    kernel_size: int = Field(3, ge=1, description="Square kernel size of every conv layer.")
    pooling: Literal["between", "after_each", "none"] = Field(
        "between", description="2x2 max-pools between conv layers, after each one, or none."
    )
    dense_units: list[int] = Field(
        default_factory=lambda: [64], description="Hidden Dense layers after Flatten ([] for none)."
    )
    activation: str = Field("relu", description="Activation of the hidden layers.")


@register("convnet")
class ConvNet(ImageClassifierExperiment):
    """A small convolutional classifier on 28x28 or 32x32 images."""

    family = "convolutional networks"
    compute_family = "convolutional"
    ModelConfig = ConvNetConfig

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        import keras
        from keras import layers

        from dlab.models.blocks import apply_layers, classifier_head, conv_stack  # lazy: imports keras

        settings: ConvNetConfig = config.model
        inputs = keras.Input(shape=data.x_train.shape[1:], name="images")
        x = apply_layers(
            inputs,
            [
                layers.Rescaling(1.0 / 255, name="rescale"),
                *conv_stack(settings.filters, settings.kernel_size, settings.activation, settings.pooling),
                layers.Flatten(name="flatten"),
                *(
                    layers.Dense(units, activation=settings.activation, name=f"dense{i}")
                    for i, units in enumerate(settings.dense_units, start=1)
                ),
            ],
        )
        outputs = classifier_head(x, data.num_classes, config.train.from_logits)
        return keras.Model(inputs, outputs, name=config.name.replace("-", "_"))
