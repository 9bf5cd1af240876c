"""Image classifiers on class-folder trees: dogs vs cats from scratch, and transfer learning.

The data is a tf.data stream per split (:mod:`dlab.data.modalities.folders`), never one
big array; training, evaluation and the figures read it batch by batch.

- ``folder_convnet``: Deep Learning with Python's convnet (conv 32/64/128/256/256,
  four max-pools, Flatten, Dense(1, sigmoid)), optionally behind augmentation
  layers inside the model and with dropout (convnet-dogs-vs-cats, -aug).
- ``transfer``: a keras.applications backbone (vgg16, resnet50, inceptionv3)
  without its top, three ways (``model.mode``):
  ``features``: the frozen base runs once per split, a small classifier trains
  on the stored features (vgg16-features); ``frozen``: the frozen base inside the
  model behind augmentation, run every epoch (vgg16-aug); ``finetune``: the same
  model with the top ``trainable_layers`` layers of the base unfrozen, started
  from an earlier run (``model.init_from``) or ImageNet (vgg16-finetune).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from dlab.config import StrictModel
from dlab.data import ArrayDataset, load_dataset
from dlab.errors import ConfigError
from dlab.framework.recipes import ImageClassifierExperiment
from dlab.framework.registry import register

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import StreamDataset
    from dlab.run.context import RunContext


class AugmentationConfig(StrictModel):
    """Random layers inside the model (active only while training)."""

    flip: Literal["horizontal", "vertical", "horizontal_and_vertical"] | None = Field(
        "horizontal", description="RandomFlip mode (null: no flips)."
    )
    rotation: float = Field(0.1, ge=0, le=1, description="RandomRotation factor (fraction of 2 pi).")
    zoom: float = Field(0.2, ge=0, lt=1, description="RandomZoom height factor.")


def augmentation_layers(settings: AugmentationConfig | None, seed: int) -> list:
    """RandomFlip, RandomRotation, RandomZoom as configured (Deep Learning with Python's trio)."""
    from keras import layers

    if settings is None:
        return []
    stack: list = []
    if settings.flip:
        stack.append(layers.RandomFlip(settings.flip, seed=seed, name="random_flip"))
    if settings.rotation:
        stack.append(layers.RandomRotation(settings.rotation, seed=seed, name="random_rotation"))
    if settings.zoom:
        stack.append(layers.RandomZoom(settings.zoom, seed=seed, name="random_zoom"))
    return stack


class FolderClassifier(ImageClassifierExperiment):
    """A classifier trained on a class-folder tree streamed with tf.data.

    Loads the tree at the model's image size, refuses settings that need arrays
    (k-fold) or that do not fit the number of classes, and reads the test stream
    once for the confusion matrix and the prediction grid.
    """

    family = "images from folders"
    compute_family = "convolutional"
    supports_kfold = False
    kfold_unsupported_because = "class-folder trees are streamed, not held as arrays"

    def image_size(self, config: RunConfig) -> int:
        """The square size every image is resized to when it is read."""
        return int(config.model.image_size)

    def load_data(self, config: RunConfig) -> StreamDataset:
        from dlab.data.modalities.folders import folder_spec  # lazy: imports numpy

        size = self.image_size(config)
        folder_spec(config.data.dataset)  # a class-folder tree, or the error that names them
        return load_dataset(config.data, config.seed, image_size=size)

    def check(self, config: RunConfig, data: StreamDataset) -> None:
        if config.train.loss == "binary_crossentropy" and data.num_classes != 2:
            raise ConfigError(
                f"{data.location or data.name} has {data.num_classes} classes "
                f"({', '.join(data.class_names)}); train.loss=binary_crossentropy needs exactly 2. "
                "Set train.loss=sparse_categorical_crossentropy for more classes."
            )

    @staticmethod
    def binary(config: RunConfig) -> bool:
        """One sigmoid output (binary cross-entropy) rather than one per class."""
        return config.train.loss == "binary_crossentropy"

    def test_predictions(self, ctx: RunContext, model: keras.Model, data: Any) -> tuple:
        """Labels and scores of the whole test stream, read once; keeps the first images."""
        import numpy as np

        from dlab.training import is_stream  # lazy: imports keras

        if not is_stream(data):
            return super().test_predictions(ctx, model, data)
        labels, scores, shown = [], [], []
        kept = 0
        for x, y in data.batches("test", ctx.config.train.batch_size or 32):
            x = np.asarray(x)  # a tf.data tensor: JAX's predict_on_batch takes arrays, not tf tensors
            scores.append(np.asarray(model.predict_on_batch(x)))
            labels.append(np.asarray(y))
            if kept < self.grid_size:
                shown.append(np.asarray(x[: self.grid_size - kept]))
                kept += len(shown[-1])
        ctx.state["shown_images"] = np.concatenate(shown)
        return np.concatenate(labels), np.concatenate(scores)

    def display_images(self, ctx: RunContext, data: Any, count: int) -> Any:
        return ctx.state["shown_images"][:count]


# --------------------------------------------------------------------------- from scratch


class FolderConvNetConfig(StrictModel):
    """The ``model`` section of the dogs-vs-cats convnet."""

    image_size: int = Field(180, ge=16, description="Images are resized to this square size.")
    filters: list[int] = Field(
        default_factory=lambda: [32, 64, 128, 256, 256],
        min_length=1,
        description="Filters of each 3x3 ReLU conv layer, in order.",
    )
    pooling: Literal["between", "after_each", "none"] = Field(
        "between", description="2x2 max-pools between conv layers, after each one, or none."
    )
    augmentation: AugmentationConfig | None = Field(
        None, description="Random flips/rotations/zooms inside the model (null: none)."
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout rate after Flatten.")


@register("folder_convnet")
class FolderConvNet(FolderClassifier):
    """A convnet trained from scratch on a class-folder tree (Deep Learning with Python, ch. 8)."""

    ModelConfig = FolderConvNetConfig
    # 80x80 is about the smallest image five 3x3 convs and four pools accept.
    smoke_overrides: ClassVar[dict[str, Any]] = {
        "model.image_size": 80,
        "data.train_samples": 64,
        "data.test_samples": 32,
        "train.batch_size": 16,
    }

    def build_model(self, config: RunConfig, data: StreamDataset) -> keras.Model:
        import keras
        from keras import layers

        from dlab.models.blocks import apply_layers, conv_stack  # lazy: imports keras
        from dlab.models.transfer import classifier_top  # lazy: imports keras

        settings: FolderConvNetConfig = config.model
        inputs = keras.Input(shape=data.image_shape, name="images")
        x = apply_layers(
            inputs,
            [
                *augmentation_layers(settings.augmentation, config.seed),
                layers.Rescaling(1.0 / 255, name="rescale"),
                *conv_stack(settings.filters, 3, "relu", settings.pooling),
            ],
        )
        outputs = classifier_top(
            x,
            data.num_classes,
            self.binary(config),
            dense_units=0,
            dropout=settings.dropout,
            logits=config.train.from_logits,
        )
        return keras.Model(inputs, outputs, name=config.name.replace("-", "_"))


# --------------------------------------------------------------------------- transfer


class TransferConfig(StrictModel):
    """The ``model`` section of the transfer-learning configs."""

    backbone: Literal["vgg16", "resnet50", "inceptionv3"] = Field(
        "vgg16", description="keras.applications network without its top."
    )
    weights: Literal["imagenet"] | None = Field(
        "imagenet",
        description="imagenet: Keras downloads and caches the weights; null: random "
        "initial weights (offline, tests).",
    )
    mode: Literal["features", "frozen", "finetune"] = Field(
        "features",
        description="features: run the frozen base once per split and train a "
        "classifier on the stored features; frozen: the frozen base inside the model, every "
        "epoch (needed for augmentation); finetune: also train the top trainable_layers layers.",
    )
    image_size: int | Literal["smallest"] | None = Field(
        None,
        description="Square image size: null = the backbone's own (vgg16 180, resnet50 "
        "224, inceptionv3 299), 'smallest' = the smallest it accepts (32, 32, 75; --smoke).",
    )
    augmentation: AugmentationConfig | None = Field(
        None, description="Random layers before the base (frozen/finetune modes only)."
    )
    dense_units: int = Field(256, ge=0, description="Dense layer of the classifier (0: none).")
    dropout: float = Field(0.5, ge=0, lt=1, description="Dropout before the output layer.")
    trainable_layers: int = Field(
        0,
        ge=0,
        description="finetune: unfreeze the last N layers of "
        "the base (Deep Learning with Python: 4, block5 of VGG16).",
    )
    init_from: str | None = Field(
        None,
        description="finetune: start from this run directory's "
        "model.keras (e.g. a vgg16-aug run) instead of ImageNet weights.",
    )


@register("transfer")
class Transfer(FolderClassifier):
    """A pretrained backbone as feature extractor, frozen inside the model, or fine-tuned."""

    ModelConfig = TransferConfig
    compute_family = "transfer"
    # VGG16 on a CPU is slow: random weights (no download), the backbone's smallest images.
    smoke_overrides: ClassVar[dict[str, Any]] = {
        "model.weights": None,
        "model.image_size": "smallest",
        "model.init_from": None,
        "data.train_samples": 32,
        "data.test_samples": 16,
        "train.batch_size": 16,
    }

    def image_size(self, config: RunConfig) -> int:
        from dlab.models.transfer import backbone, input_size  # lazy: imports keras

        return input_size(backbone(config.model.backbone), config.model.image_size)

    def check(self, config: RunConfig, data: StreamDataset) -> None:
        settings: TransferConfig = config.model
        if settings.mode == "features" and settings.augmentation is not None:
            raise ConfigError(
                "model.augmentation needs the base inside the model (model.mode="
                "frozen or finetune): precomputed features are computed once, "
                "from unaugmented images. Set model.augmentation=null or change "
                "model.mode."
            )
        if settings.mode != "finetune" and (settings.trainable_layers or settings.init_from):
            raise ConfigError(
                "model.trainable_layers and model.init_from apply to model.mode="
                f"finetune, not {settings.mode}."
            )
        if settings.mode == "finetune" and settings.init_from:
            self._check_init_run(config)
        super().check(config, data)

    def _check_init_run(self, config: RunConfig) -> None:
        from dlab.models.transfer import read_run  # lazy: imports keras

        settings: TransferConfig = config.model
        run, saved = read_run(settings.init_from)
        model = saved.get("model") or {}
        if saved and (
            saved.get("experiment") != "transfer"
            or model.get("mode") == "features"
            or model.get("backbone") != settings.backbone
        ):
            what = f"experiment {saved.get('experiment')}"
            if saved.get("experiment") == "transfer":
                what += f", backbone {model.get('backbone')}, mode {model.get('mode')}"
            raise ConfigError(
                f"model.init_from '{settings.init_from}' is a run of {saved.get('name', '?')} "
                f"({what}); {config.name} fine-tunes a {settings.backbone} model with the base "
                f"inside it, so it starts from a transfer run with model.backbone="
                f"{settings.backbone} and mode frozen or finetune (e.g. vgg16-aug)."
            )

    def build_model(self, config: RunConfig, data: StreamDataset) -> keras.Model:
        import keras

        from dlab.models.blocks import apply_layers  # lazy: imports keras
        from dlab.models.transfer import (  # lazy: imports keras
            BackbonePreprocess,
            backbone,
            build_base,
            classifier_top,
            copy_weights,
            feature_extractor,
            read_run,
            unfreeze_top,
        )

        settings: TransferConfig = config.model
        spec = backbone(settings.backbone)
        size = data.image_shape[0]
        binary = self.binary(config)
        self.backbone_record: dict[str, Any] = {
            "name": spec.name,
            "weights": settings.weights,
            "input_size": size,
            "mode": settings.mode,
        }
        if settings.mode == "features":
            self.extractor = feature_extractor(spec, settings.weights, size)
            features = keras.Input(self.extractor.output_shape[1:], name="features")
            outputs = classifier_top(
                features,
                data.num_classes,
                binary,
                settings.dense_units,
                settings.dropout,
                logits=config.train.from_logits,
            )
            self.backbone_record["feature_shape"] = list(self.extractor.output_shape[1:])
            return keras.Model(features, outputs, name=f"{config.name.replace('-', '_')}_head")

        weights = None if settings.init_from else settings.weights
        base = build_base(spec, weights, size)
        inputs = keras.Input(data.image_shape, name="images")
        x = apply_layers(
            inputs,
            [
                *augmentation_layers(settings.augmentation, config.seed),
                BackbonePreprocess(spec.name, name="preprocess"),
            ],
        )
        x = base(x, training=False)  # batch norm stays in inference mode, also when fine-tuning
        outputs = classifier_top(
            x,
            data.num_classes,
            binary,
            settings.dense_units,
            settings.dropout,
            logits=config.train.from_logits,
        )
        model = keras.Model(inputs, outputs, name=config.name.replace("-", "_"))
        if settings.init_from:
            run, _ = read_run(settings.init_from)
            source = keras.models.load_model(run / "model.keras", compile=False, safe_mode=True)
            copy_weights(source, model, settings.init_from)
            self.backbone_record["weights"] = f"init_from {run}"
        if settings.mode == "finetune":
            self.backbone_record["trainable_layers"] = unfreeze_top(base, settings.trainable_layers)
        return model

    def run(self, ctx: RunContext, data: StreamDataset, model: keras.Model) -> None:
        ctx.record(backbone=self.backbone_record)
        if ctx.config.model.mode != "features":
            super().run(ctx, data, model)
            return
        self._run_on_features(ctx, data, model)

    def _run_on_features(self, ctx: RunContext, data: StreamDataset, head: keras.Model) -> None:
        """Extract features once per split, train the head on them, save base + head as one model."""
        import keras

        from dlab import training  # lazy: imports keras

        features, ctx.state["shown_images"] = self.feature_dataset(data, ctx.config.train.batch_size or 32)
        ctx.record(backbone=self.backbone_record)
        result = training.fit_and_evaluate(head, features, replace(ctx, save_model=False))
        images = keras.Input(data.image_shape, name="images")
        full = keras.Model(
            images, result.model(self.extractor(images)), name=ctx.config.name.replace("-", "_")
        )
        if ctx.save_model:
            ctx.run_dir.save_model(full)
        self.figures(ctx, result.model, features, result)
        self.save_inference(ctx, data)

    def feature_dataset(self, data: StreamDataset, batch_size: int) -> tuple[ArrayDataset, Any]:
        """What the head of ``model.mode=features`` trains on: the frozen base (``self.extractor``,
        built by :meth:`build_model`) run once over each split, in the stream's order.

        Returns:
            (the features and labels of every split, the first test images for the prediction
            grid); the extraction's time goes to ``backbone_record["feature_seconds"]``.
        """
        from dlab.models.transfer import extract_features  # lazy: imports keras

        arrays: dict[str, Any] = {}
        started = time.perf_counter()
        splits = ["train", "test"] if data.validation == "the test split" else ["train", "val", "test"]
        for split in splits:
            keep = self.grid_size if split == "test" else 0
            arrays[split] = extract_features(self.extractor, data.batches(split, batch_size), keep)
            print(
                f"dlab: {split} features {arrays[split][0].shape} from the frozen "
                f"{self.backbone_record['name']}"
            )
        if "val" not in arrays:
            arrays["val"] = arrays["test"]
        seconds = time.perf_counter() - started
        self.backbone_record["feature_seconds"] = round(seconds, 3)
        features = ArrayDataset(
            name=data.name,
            source=data.source,
            location=data.location,
            x_train=arrays["train"][0],
            y_train=arrays["train"][1],
            x_val=arrays["val"][0],
            y_val=arrays["val"][1],
            x_test=arrays["test"][0],
            y_test=arrays["test"][1],
            class_names=data.class_names,
            validation=data.validation,
        )
        return features, arrays["test"][2]
