"""Image segmentation: a class for every pixel (Oxford-IIIT Pets trimaps: pet, background, border).

Deep Learning with Python's encoder-decoder: 3x3 ReLU convolutions that halve the
resolution at every level (Conv(64, stride 2), Conv(64), Conv(128, s2) ...), then
transposed convolutions that double it back (ConvT(256), ConvT(256, s2) ...),
and a 3x3 softmax convolution with one channel per class. Strided convolutions
instead of max-pooling keep where things are, which a per-pixel answer needs.
The data is a tf.data stream of (image, mask) per split (:mod:`dlab.data.modalities.segmentation`);
pixel accuracy and mean IoU are reported every epoch, and ``plots/masks.png`` shows
image, true mask and predicted mask for the first validation images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from dlab.config import StrictModel
from dlab.errors import ConfigError
from dlab.framework.inference import image_spec
from dlab.framework.recipes import KerasExperiment
from dlab.framework.registry import register
from dlab.plots import segmentation_masks

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import StreamDataset
    from dlab.run.context import RunContext
    from dlab.training import FitResult


class SegmentationConfig(StrictModel):
    """The ``model`` section of the encoder-decoder."""

    filters: list[int] = Field(
        default_factory=lambda: [64, 128, 256],
        min_length=1,
        description="Filters per level: Conv(f, stride 2) + Conv(f) down, "
        "ConvT(f) + ConvT(f, stride 2) back up, in reverse order.",
    )
    kernel_size: int = Field(3, ge=1, description="Square kernel of every (transposed) convolution.")
    activation: str = Field("relu", description="Activation of the hidden layers.")
    figure_images: int = Field(4, ge=1, le=16, description="Validation images in plots/masks.png.")


@register("segmentation")
class Segmentation(KerasExperiment):
    """Per-pixel classification with a strided-conv encoder and a transposed-conv decoder."""

    family = "image segmentation"
    compute_family = "convolutional"
    supports_kfold = False
    kfold_unsupported_because = "images and masks are streamed, not held as arrays"
    ModelConfig = SegmentationConfig
    # 32x32 pictures (divisible by 2^3), 48 + 16 of them: one epoch in a few seconds on 1 core.
    smoke_overrides: ClassVar[dict[str, Any]] = {
        "data.image_size": 32,
        "data.train_samples": 48,
        "data.validation": 16,
    }

    def check(self, config: RunConfig, data: StreamDataset) -> None:
        if getattr(data, "extra", {}).get("task") != "segmentation":
            raise ConfigError(
                f"{config.name} segments images with masks; data.dataset="
                f"{config.data.dataset} has none. Use data.dataset: oxford_pets "
                "(data.source=dir reads any images/ + masks/ folder)."
            )
        if config.train.loss != "sparse_categorical_crossentropy":
            raise ConfigError(
                f"train.loss={config.train.loss}: the masks hold class numbers per "
                "pixel. Use train.loss=sparse_categorical_crossentropy."
            )
        levels = len(config.model.filters)
        factor = 2**levels
        height, width = data.image_shape[:2]
        if height % factor or width % factor:
            raise ConfigError(
                f"data.image_size={height}x{width} is not divisible by {factor}: the {levels} "
                f"stride-2 levels halve it {levels} times and the decoder doubles it back, so the "
                f"masks would not line up. Use multiples of {factor} (e.g. "
                f"{max(factor, round(height / factor) * factor)})."
            )

    def inference_spec(self, config: RunConfig, data: StreamDataset) -> dict:
        """Images resized to the run's size; the answer is a class per pixel (a mask PNG)."""
        return image_spec(config, data.image_shape, data.class_names, "segmentation")

    def build_model(self, config: RunConfig, data: StreamDataset) -> keras.Model:
        import keras
        from keras import layers

        from dlab.models.blocks import apply_layers  # lazy: imports keras

        settings: SegmentationConfig = config.model
        size, act = settings.kernel_size, settings.activation
        encoder, decoder = [], []
        for level, filters in enumerate(settings.filters, start=1):
            encoder += [
                layers.Conv2D(
                    filters, size, strides=2, activation=act, padding="same", name=f"down{level}_stride2"
                ),
                layers.Conv2D(filters, size, activation=act, padding="same", name=f"down{level}"),
            ]
        for level, filters in reversed(list(enumerate(settings.filters, start=1))):
            decoder += [
                layers.Conv2DTranspose(filters, size, activation=act, padding="same", name=f"up{level}"),
                layers.Conv2DTranspose(
                    filters, size, strides=2, activation=act, padding="same", name=f"up{level}_stride2"
                ),
            ]
        inputs = keras.Input(shape=data.image_shape, name="images")
        outputs = apply_layers(
            inputs,
            [
                layers.Rescaling(1.0 / 255, name="rescale"),
                *encoder,
                *decoder,
                layers.Conv2D(
                    data.num_classes,
                    size,
                    padding="same",
                    name="classes",
                    activation=None if config.train.from_logits else "softmax",
                ),
            ],
        )
        return keras.Model(inputs, outputs, name=config.name.replace("-", "_"))

    def figures(self, ctx: RunContext, model: keras.Model, data: StreamDataset, result: FitResult) -> None:
        import numpy as np

        count = min(ctx.config.model.figure_images, data.sizes["val"])
        images, masks = next(iter(data.batches("val", count)))
        scores = np.asarray(model.predict_on_batch(np.asarray(images)))  # JAX refuses tf tensors
        ctx.run_dir.save_figure(
            segmentation_masks(
                np.asarray(images),
                np.asarray(masks),
                scores.argmax(axis=-1),
                data.class_names,
                title=f"{ctx.config.name}: validation images",
            ),
            "masks",
        )
