"""Dense networks on MNIST: the first MLP, noise channels, learning rates, capacity.

Flatten -> Dense(units, activation) for each entry of ``hidden`` -> Dense(10,
softmax). ``hidden: []`` is multinomial logistic regression. ``extra_channels``
appends 784 more input columns to every image, uniform noise or zeros, fixed
per image and seeded (Deep Learning with Python's experiment): the noise makes
validation accuracy worse, the zeros do not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dlab.config import StrictModel
from dlab.framework.recipes import ImageClassifierExperiment
from dlab.framework.registry import register

if TYPE_CHECKING:
    import keras
    import numpy as np

    from dlab.config import RunConfig
    from dlab.data import ArrayDataset
    from dlab.run.context import RunContext


class DenseConfig(StrictModel):
    """The ``model`` section of the dense MNIST classifiers."""

    hidden: list[int] = Field(
        default_factory=lambda: [128],
        description="Units of each hidden Dense layer ([] = logistic regression).",
    )
    activation: str = Field("relu", description="Activation of the hidden layers.")
    extra_channels: Literal["none", "noise", "zeros"] = Field(
        "none", description="Append 784 columns of uniform noise or of zeros to every image."
    )


def with_extra_channels(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Flatten uint8 images to float32 in [0, 1] and append as many noise or zero columns."""
    import numpy as np

    flat = x.reshape(len(x), -1).astype(np.float32) / 255.0
    if kind == "zeros":
        extra = np.zeros_like(flat)
    else:
        extra = rng.random(flat.shape, dtype=np.float32)
    return np.concatenate([flat, extra], axis=1)


@register("dense_mnist")
class DenseMnist(ImageClassifierExperiment):
    """A dense classifier on flattened images, optionally with extra input channels."""

    family = "dense networks"
    ModelConfig = DenseConfig

    def load_data(self, config: RunConfig) -> ArrayDataset:
        import numpy as np

        data = super().load_data(config)
        kind = config.model.extra_channels
        if kind == "none":
            return data
        rng = np.random.default_rng(config.seed)
        return data.map_inputs(
            lambda x: with_extra_channels(x, kind, rng),
            extra={**data.extra, "extra_channels": kind, "image_shape": list(data.x_train.shape[1:])},
        )

    def display_images(self, ctx: RunContext, data: ArrayDataset, count: int) -> np.ndarray:
        import numpy as np

        if "extra_channels" not in data.extra:
            return super().display_images(ctx, data, count)
        shape = data.extra["image_shape"]
        pixels = data.x_test[:count, : int(np.prod(shape))] * 255.0  # the image part of each row
        return pixels.reshape(len(pixels), *shape).astype(np.uint8)

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        import keras
        import numpy as np
        from keras import layers

        from dlab.models.blocks import classifier_head  # lazy: imports keras

        settings: DenseConfig = config.model
        inputs = keras.Input(shape=data.x_train.shape[1:], name="inputs")
        x = layers.Flatten(name="flatten")(inputs)
        if data.x_train.dtype == np.uint8:  # raw pixels; extra-channel inputs are already scaled
            x = layers.Rescaling(1.0 / 255, name="rescale")(x)
        for index, units in enumerate(settings.hidden, start=1):
            x = layers.Dense(units, activation=settings.activation, name=f"dense{index}")(x)
        outputs = classifier_head(x, data.num_classes, config.train.from_logits)
        return keras.Model(inputs, outputs, name=config.name.replace("-", "_"))
