"""The classic CNN architectures on Fashion-MNIST: LeNet, AlexNet, VGG-11, GoogLeNet, ResNet-18.

The lab report trained Dive into Deep Learning's PyTorch versions; dlab builds
them in Keras (:mod:`dlab.models.blocks`). Images are resized to ``input_size`` by a
``Resizing`` layer inside the model, batch by batch, so a 224x224 run holds
60,000 28x28 images in memory, not 60,000 enlarged copies. A size too small for
an architecture fails before training, naming the layer that cannot fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dlab.config import StrictModel
from dlab.errors import ConfigError
from dlab.framework.recipes import ImageClassifierExperiment
from dlab.framework.registry import register

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import ArrayDataset


class ClassicCnnConfig(StrictModel):
    """Which architecture, at which input size."""

    architecture: Literal["lenet", "alexnet", "vgg11", "googlenet", "resnet18"] = Field(
        "lenet", description="The network (d2l's versions, in Keras)."
    )
    input_size: int | None = Field(
        None, ge=8, description="Resize images to this square size in the pipeline (null keeps 28x28)."
    )
    width: float = Field(
        1.0, gt=0, le=4, description="AlexNet only: scale every layer's width (0.5 = alexnet-small)."
    )
    small_input: bool = Field(
        False, description="AlexNet only: 3x3 stem and 2x2 pools that fit 28x28 images (alexnet28)."
    )


@register("classic_cnn")
class ClassicCnn(ImageClassifierExperiment):
    """A named classic architecture on small grayscale images, resized in the pipeline."""

    family = "classic architectures"
    compute_family = "convolutional"
    ModelConfig = ClassicCnnConfig
    # The big ones are slow on a CPU even for a smoke run: a handful of images suffices.
    smoke_overrides = {"data.train_samples": 32, "data.test_samples": 16, "train.batch_size": 16}

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        from dlab.models.blocks import build_classifier  # lazy: imports keras

        settings: ClassicCnnConfig = config.model
        options = {}
        if settings.architecture == "alexnet":
            options = {"width": settings.width, "small_input": settings.small_input}
        elif settings.width != 1.0 or settings.small_input:
            raise ConfigError(
                "model.width and model.small_input apply to architecture=alexnet "
                f"only, not {settings.architecture}."
            )
        return build_classifier(
            settings.architecture,
            data.x_train.shape[1:],
            data.num_classes,
            logits=config.train.from_logits,
            input_size=settings.input_size,
            **options,
        )
