"""Reusable Keras building blocks and the classic image architectures built from them.

Written once, the way ``keras.applications`` writes its models: functions that
take a tensor (or an input shape) and return a tensor or a ``keras.Model``,
with named layers. Conv stacks, VGG blocks, Inception modules and residual
blocks appear in several experiments; each exists here only once.

The architectures follow Dive into Deep Learning (LeNet, AlexNet, VGG-11,
GoogLeNet, ResNet-18), rebuilt in Keras. Resizing (28 -> 96 / 224) is a
``Resizing`` layer at the top of the model, so it happens batch by batch in the
pipeline and never materializes an enlarged copy of the dataset.

This module imports Keras at the top; only training code imports it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import keras
from keras import layers

from dlab.errors import ConfigError
from dlab.models.sparse_dense import SparseInputDense

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ModelShapeError(ConfigError):
    """The input is too small for the architecture: a layer would get an empty feature map."""


def apply_layers(x, stack: Sequence[layers.Layer]):
    """Apply layers in order; a layer that cannot take the shape it gets is named in the error.

    Raises:
        ModelShapeError: e.g. AlexNet's third max-pool on a 2x2 map when fed 28x28 images.
    """
    for layer in stack:
        try:
            x = layer(x)
        except ValueError as error:
            text = _ANSI.sub("", str(error))
            if "negative" not in text and "zero" not in text:
                raise
            detail = text.strip().splitlines()
            reason = next(
                (line for line in detail if "negative" in line or "size" in line), detail[0] if detail else ""
            )
            raise ModelShapeError(
                f"The input is too small for this network: layer '{layer.name}' "
                f"({type(layer).__name__}) would receive a feature map of shape "
                f"{tuple(x.shape)[1:]} ({reason}). Use a larger model.input_size (resize in the "
                "pipeline) or a variant built for small images."
            ) from None
    return x


def rescale_and_resize(inputs, size: int | None):
    """Pixels 0-255 -> 0-1, then resize to size x size if asked (batch by batch)."""
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    if size and tuple(inputs.shape[1:3]) != (size, size):
        x = layers.Resizing(size, size, name="resize")(x)
    return x


# --------------------------------------------------------------------------- blocks


def conv_stack(
    filters: Sequence[int],
    kernel_size: int = 3,
    activation: str = "relu",
    pooling: str = "between",
    pool_size: int = 2,
    prefix: str = "conv",
) -> list:
    """Conv2D layers with max-pooling: ``between`` them, ``after_each`` one, or ``none``."""
    stack: list[layers.Layer] = []
    for index, count in enumerate(filters, start=1):
        stack.append(layers.Conv2D(count, kernel_size, activation=activation, name=f"{prefix}{index}"))
        last = index == len(filters)
        if pooling == "after_each" or (pooling == "between" and not last):
            stack.append(layers.MaxPooling2D(pool_size, name=f"{prefix}{index}_pool"))
    return stack


def vgg_block(num_convs: int, filters: int, name: str) -> list:
    """``num_convs`` 3x3 same-padded ReLU convolutions, then a 2x2 max-pool (VGG)."""
    stack: list[layers.Layer] = [
        layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv{i + 1}")
        for i in range(num_convs)
    ]
    stack.append(layers.MaxPooling2D(2, strides=2, name=f"{name}_pool"))
    return stack


def inception_module(x, c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int, name: str):
    """GoogLeNet's Inception block: 1x1 | 1x1->3x3 | 1x1->5x5 | 3x3 pool->1x1, concatenated."""

    def conv(filters, size, tag, inputs):
        return layers.Conv2D(filters, size, padding="same", activation="relu", name=f"{name}_{tag}")(inputs)

    branch1 = conv(c1, 1, "b1_1x1", x)
    branch2 = conv(c2[1], 3, "b2_3x3", conv(c2[0], 1, "b2_1x1", x))
    branch3 = conv(c3[1], 5, "b3_5x5", conv(c3[0], 1, "b3_1x1", x))
    pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_b4_pool")(x)
    branch4 = conv(c4, 1, "b4_1x1", pooled)
    return layers.Concatenate(name=f"{name}_concat")([branch1, branch2, branch3, branch4])


def residual_block(x, filters: int, strides: int, name: str):
    """ResNet's basic block: two 3x3 conv + batch norm, a 1x1 projection when the shape changes."""
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=strides, padding="same", name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, name=f"{name}_project")(x)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def classifier_head(x, num_classes: int, logits: bool, name: str = "predictions"):
    """The last Dense: logits when the loss is told ``from_logits``, softmax otherwise."""
    return layers.Dense(num_classes, activation=None if logits else "softmax", name=name)(x)


# --------------------------------------------------------------------------- architectures


def lenet(inputs, num_classes: int, logits: bool):
    """LeNet-5 as in d2l: sigmoid convolutions and average pooling (61,706 params on 28x28)."""
    x = apply_layers(
        inputs,
        [
            layers.Conv2D(6, 5, padding="same", activation="sigmoid", name="conv1"),
            layers.AveragePooling2D(2, strides=2, name="pool1"),
            layers.Conv2D(16, 5, activation="sigmoid", name="conv2"),
            layers.AveragePooling2D(2, strides=2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(120, activation="sigmoid", name="fc1"),
            layers.Dense(84, activation="sigmoid", name="fc2"),
        ],
    )
    return classifier_head(x, num_classes, logits)


def alexnet(inputs, num_classes: int, logits: bool, width: float = 1.0, small_input: bool = False):
    """AlexNet as in d2l (for 224x224); ``width`` scales every layer, ``small_input`` swaps the
    11x11/stride-4 stem and 3x3/2 pools for 3x3 convs and 2x2 pools that fit 28x28 images."""

    def w(n: int) -> int:
        return max(1, int(round(n * width)))

    if small_input:
        stem = [
            layers.Conv2D(w(96), 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(w(256), 3, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
        ]
        last_pool = layers.MaxPooling2D(2, name="pool3")
    else:
        stem = [
            layers.Conv2D(w(96), 11, strides=4, activation="relu", name="conv1"),
            layers.MaxPooling2D(3, strides=2, name="pool1"),
            layers.Conv2D(w(256), 5, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(3, strides=2, name="pool2"),
        ]
        last_pool = layers.MaxPooling2D(3, strides=2, name="pool3")
    x = apply_layers(
        inputs,
        [
            *stem,
            layers.Conv2D(w(384), 3, padding="same", activation="relu", name="conv3"),
            layers.Conv2D(w(384), 3, padding="same", activation="relu", name="conv4"),
            layers.Conv2D(w(256), 3, padding="same", activation="relu", name="conv5"),
            last_pool,
            layers.Flatten(name="flatten"),
            layers.Dense(w(4096), activation="relu", name="fc1"),
            layers.Dropout(0.5, name="drop1"),
            layers.Dense(w(4096), activation="relu", name="fc2"),
            layers.Dropout(0.5, name="drop2"),
        ],
    )
    return classifier_head(x, num_classes, logits)


VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg(inputs, num_classes: int, logits: bool, architecture=VGG11):
    """VGG from (num_convs, filters) blocks, then two Dense(4096) with dropout."""
    stack: list[layers.Layer] = []
    for index, (num_convs, filters) in enumerate(architecture, start=1):
        stack += vgg_block(num_convs, filters, name=f"block{index}")
    stack += [
        layers.Flatten(name="flatten"),
        layers.Dense(4096, activation="relu", name="fc1"),
        layers.Dropout(0.5, name="drop1"),
        layers.Dense(4096, activation="relu", name="fc2"),
        layers.Dropout(0.5, name="drop2"),
    ]
    return classifier_head(apply_layers(inputs, stack), num_classes, logits)


def googlenet(inputs, num_classes: int, logits: bool):
    """GoogLeNet as in d2l: a conv stem, nine Inception modules, global average pooling."""
    x = apply_layers(
        inputs,
        [
            layers.Conv2D(64, 7, strides=2, padding="same", activation="relu", name="stem_conv1"),
            layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool1"),
            layers.Conv2D(64, 1, activation="relu", name="stem_conv2"),
            layers.Conv2D(192, 3, padding="same", activation="relu", name="stem_conv3"),
            layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool2"),
        ],
    )
    stages = (
        [(64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)],
        [
            (192, (96, 208), (16, 48), 64),
            (160, (112, 224), (24, 64), 64),
            (128, (128, 256), (24, 64), 64),
            (112, (144, 288), (32, 64), 64),
            (256, (160, 320), (32, 128), 128),
        ],
        [(256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)],
    )
    for stage, modules in enumerate(stages, start=3):
        for index, spec in enumerate(modules, start=1):
            x = inception_module(x, *spec, name=f"inception{stage}{chr(96 + index)}")
        if stage < 5:
            x = apply_layers(
                x, [layers.MaxPooling2D(3, strides=2, padding="same", name=f"stage{stage}_pool")]
            )
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return classifier_head(x, num_classes, logits)


def resnet18(inputs, num_classes: int, logits: bool):
    """ResNet-18 as in d2l: 7x7 stem, four stages of two basic blocks, global average pooling."""
    x = apply_layers(
        inputs,
        [
            layers.Conv2D(64, 7, strides=2, padding="same", name="stem_conv"),
            layers.BatchNormalization(name="stem_bn"),
            layers.Activation("relu", name="stem_relu"),
            layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool"),
        ],
    )
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        for block in (1, 2):
            strides = 2 if stage > 1 and block == 1 else 1
            x = residual_block(x, filters, strides, name=f"stage{stage}_block{block}")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return classifier_head(x, num_classes, logits)


ARCHITECTURES = {
    "lenet": lenet,
    "alexnet": alexnet,
    "vgg11": vgg,
    "googlenet": googlenet,
    "resnet18": resnet18,
}


def build_classifier(
    architecture: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    logits: bool,
    input_size: int | None = None,
    **options,
) -> keras.Model:
    """A named architecture on raw uint8 images: rescale, resize if asked, then the network."""
    inputs = keras.Input(shape=input_shape, name="images")
    x = rescale_and_resize(inputs, input_size)
    outputs = ARCHITECTURES[architecture](x, num_classes, logits, **options)
    return keras.Model(inputs, outputs, name=architecture)


def kernel_regularizer(l1: float = 0.0, l2: float = 0.0):
    """``keras.regularizers.L1L2`` when either penalty is set, else None (no penalty term)."""
    if not (l1 or l2):
        return None
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def dense_stack(
    units: Sequence[int],
    activation: str,
    l1: float = 0.0,
    l2: float = 0.0,
    dropout: float = 0.0,
    batchnorm: bool = False,
    prefix: str = "dense",
    sparse_input: bool = False,
) -> list:
    """Dense layers with optional L1/L2 kernel penalties, batch normalization (between the
    linear part and the activation) and a Dropout after each.

    ``sparse_input``: the stack reads sparse batches, so its first layer multiplies them as
    sparse (:class:`~dlab.models.sparse_dense.SparseInputDense`).
    """
    stack: list[layers.Layer] = []
    for index, count in enumerate(units, start=1):
        dense = SparseInputDense if sparse_input and index == 1 else layers.Dense
        stack.append(
            dense(
                count,
                activation=None if batchnorm else activation,
                name=f"{prefix}{index}",
                kernel_regularizer=kernel_regularizer(l1, l2),
            )
        )
        if batchnorm:
            stack.append(layers.BatchNormalization(name=f"{prefix}{index}_bn"))
            stack.append(layers.Activation(activation, name=f"{prefix}{index}_{activation}"))
        if dropout:
            stack.append(layers.Dropout(dropout, name=f"{prefix}{index}_dropout"))
    return stack
