"""Transfer learning from keras.applications: backbones, their preprocessing, feature
extraction, fine-tuning and starting from an earlier run's weights.

Each backbone (vgg16, resnet50, inceptionv3) brings its own ``preprocess_input``
and input size. The preprocessing is a layer (:class:`BackbonePreprocess`)
inside the model, so the saved model takes raw 0-255 images like every other
dlab model. ImageNet weights are downloaded by Keras once and cached under
``~/.keras/models``; offline, a missing file stops the run before training with
the same one-paragraph help as the datasets.

This module imports Keras at the top: only the transfer experiments import it
(never ``dlab --help``, ``list`` or ``show``). A saved model that contains the
preprocessing layer loads after ``import dlab.models.transfer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dlab.config.yamlload import load_yaml
from dlab.data.formats.cache import keras_cache_dir, offline_error
from dlab.errors import ConfigError

_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class Backbone:
    """A keras.applications network used without its top.

    Attributes:
        name: ``model.backbone``.
        application: the ``keras.applications`` constructor (``VGG16``).
        module: the ``keras.applications`` module whose ``preprocess_input`` it needs.
        input_size: its own square input size (vgg16: 180, as Deep Learning with Python).
        smallest: the smallest input Keras accepts without the top.
        weights_url: the ImageNet no-top weights file Keras downloads.
    """

    name: str
    application: str
    module: str
    input_size: int
    smallest: int
    weights_url: str

    @property
    def weights_file(self) -> str:
        return self.weights_url.rsplit("/", 1)[-1]


BACKBONES: dict[str, Backbone] = {
    "vgg16": Backbone(
        "vgg16",
        "VGG16",
        "vgg16",
        180,
        32,
        _APPLICATIONS + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
    "resnet50": Backbone(
        "resnet50",
        "ResNet50",
        "resnet50",
        224,
        32,
        _APPLICATIONS + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
    "inceptionv3": Backbone(
        "inceptionv3",
        "InceptionV3",
        "inception_v3",
        299,
        75,
        _APPLICATIONS + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
}


def backbone(name: str) -> Backbone:
    """The backbone called ``name``.

    Raises:
        ConfigError: an unknown name; the message lists the three.
    """
    if name not in BACKBONES:
        raise ConfigError(f"Unknown backbone '{name}' (model.backbone). Use one of {', '.join(BACKBONES)}.")
    return BACKBONES[name]


def input_size(spec: Backbone, size: int | str | None) -> int:
    """The image size a run uses: the backbone's own (None), its smallest ("smallest"), or a number.

    Raises:
        ConfigError: a size below what the backbone accepts.
    """
    if size is None:
        return spec.input_size
    if size == "smallest":
        return spec.smallest
    if int(size) < spec.smallest:
        raise ConfigError(
            f"model.image_size={size} is too small for {spec.name}: it needs at least "
            f"{spec.smallest}x{spec.smallest} images. Use a larger size, 'smallest' "
            f"or null ({spec.input_size}, its own size)."
        )
    return int(size)


@keras.saving.register_keras_serializable(package="dlab")
class BackbonePreprocess(keras.layers.Layer):
    """The backbone's own ``preprocess_input`` as a layer: 0-255 RGB in, what it was trained on out
    (vgg16/resnet50: BGR minus the ImageNet mean; inceptionv3: scaled to [-1, 1])."""

    def __init__(self, backbone: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backbone = backbone
        self._preprocess = getattr(keras.applications, BACKBONES[backbone].module).preprocess_input

    def call(self, images):
        return self._preprocess(keras.ops.cast(images, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "backbone": self.backbone}


def build_base(spec: Backbone, weights: str | None, size: int) -> keras.Model:
    """The backbone without its top, for ``size`` x ``size`` RGB images (frozen).

    Raises:
        DataError: the ImageNet weights cannot be downloaded (the offline paragraph).
    """
    constructor = getattr(keras.applications, spec.application)
    try:
        base = constructor(weights=weights, include_top=False, input_shape=(size, size, 3))
    except (ValueError, TypeError):
        raise
    except Exception as error:  # keras.utils.get_file raises a bare Exception on URL failures
        raise offline_error(
            spec.name,
            [(spec.weights_url, spec.weights_file)],
            error,
            "run with --set model.weights=null (random initial weights: the pipeline runs, the "
            "accuracy will be far from the reference)",
            cache_dir=keras_cache_dir().parent / "models",
            what="ImageNet weights",
        ) from error
    base.trainable = False
    return base


def unfreeze_top(base: keras.Model, count: int) -> list[str]:
    """Make the last ``count`` layers of ``base`` trainable and every other layer frozen.

    Returns:
        The names of the layers that now train (those with weights and without).

    Raises:
        ConfigError: ``count`` larger than the number of layers.
    """
    layers = base.layers[1:] if isinstance(base.layers[0], keras.layers.InputLayer) else base.layers
    if count > len(layers):
        raise ConfigError(
            f"model.trainable_layers={count}, but {base.name} has only {len(layers)} "
            "layers. Use a smaller count (Deep Learning with Python unfreezes 4)."
        )
    base.trainable = count > 0
    for index, layer in enumerate(layers):
        layer.trainable = index >= len(layers) - count
    return [layer.name for layer in layers[len(layers) - count :]] if count else []


def feature_extractor(spec: Backbone, weights: str | None, size: int) -> keras.Model:
    """Raw uint8 images -> the backbone's preprocessing -> the frozen base's feature maps."""
    base = build_base(spec, weights, size)
    inputs = keras.Input((size, size, 3), name="images")
    x = BackbonePreprocess(spec.name, name="preprocess")(inputs)
    return keras.Model(inputs, base(x, training=False), name=f"{spec.name}_features")


def extract_features(extractor: keras.Model, batches, keep_images: int = 0):
    """Run the base once over a split: (features, labels, the first ``keep_images`` images).

    One pass over ``batches`` (a tf.data stream of (images, labels)): labels and
    images are read in the same pass as the features, so the base sees every
    image exactly once.
    """
    features, labels, images = [], [], []
    kept = 0
    for x, y in batches:
        x = np.asarray(x)  # a tf.data tensor: JAX's predict_on_batch takes arrays, not tf tensors
        features.append(np.asarray(extractor.predict_on_batch(x)))
        labels.append(np.asarray(y))
        if kept < keep_images:
            images.append(np.asarray(x[: keep_images - kept]))
            kept += len(images[-1])
    shape = extractor.output_shape[1:]
    stacked = np.concatenate(features) if features else np.zeros((0, *shape), np.float32)
    return (
        stacked,
        np.concatenate(labels) if labels else np.zeros((0,), np.int32),
        np.concatenate(images) if images else None,
    )


def classifier_top(x, num_classes: int, binary: bool, dense_units: int, dropout: float, logits: bool = False):
    """Flatten -> Dense(units, relu) -> Dropout -> the classifier (Deep Learning with Python's head)."""
    x = keras.layers.Flatten(name="flatten")(x)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    if binary:
        return keras.layers.Dense(1, activation=None if logits else "sigmoid", name="predictions")(x)
    return keras.layers.Dense(num_classes, activation=None if logits else "softmax", name="predictions")(x)


# --------------------------------------------------------------------------- init_from


def read_run(path: str) -> tuple[Path, dict[str, Any]]:
    """The run directory ``path`` and its saved config (as a dict).

    Raises:
        ConfigError: not a run directory, or one without model.keras.
    """
    run = Path(path).expanduser()
    if not run.is_dir():
        raise ConfigError(
            f"model.init_from '{path}' is not a folder; give the run directory of "
            "an earlier run (outputs/vgg16-aug/<time>-<id>)."
        )
    if not (run / "model.keras").is_file():
        raise ConfigError(
            f"model.init_from '{path}' has no model.keras (was it run with "
            "--no-save, or is it not a run directory?). Run the config it should "
            "start from again without --no-save and point at its folder."
        )
    config_file = run / "config.yaml"
    config = (
        load_yaml(config_file.read_text(encoding="utf-8"), str(config_file)) if config_file.is_file() else {}
    )
    return run, config or {}


def copy_weights(source: keras.Model, target: keras.Model, where: str) -> int:
    """Copy every weight of ``source`` into ``target`` layer by layer (same names and shapes).

    Returns:
        How many weight tensors were copied.

    Raises:
        ConfigError: the two models have different layers or weight shapes.
    """
    copied = 0
    source_layers = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        other = source_layers.get(layer.name)
        theirs = other.get_weights() if other is not None else None
        if theirs is None or [w.shape for w in theirs] != [w.shape for w in weights]:
            have = [tuple(w.shape) for w in theirs] if theirs is not None else "no such layer"
            raise ConfigError(
                f"model.init_from '{where}' holds a model of a different architecture: layer "
                f"'{layer.name}' needs weights {[tuple(w.shape) for w in weights]}, the run's "
                f"model has {have}. Point at a run of the same backbone, image size and head "
                "(e.g. a vgg16-aug run for vgg16-finetune)."
            )
        layer.set_weights(theirs)
        copied += len(weights)
    return copied
