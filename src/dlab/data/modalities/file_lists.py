"""Class-folder trees as file lists: listed, shuffled with the seed, split, then streamed.

``keras.utils.image_dataset_from_directory`` lists a tree, shuffles the list and can
cut off its last fraction for validation; that last fraction is random but not
stratified, and which images a sample limit keeps is only known after a pass. dlab
lists the files itself (the same files Keras would: every PNG/JPEG/GIF/BMP below a
class folder), permutes the list with the run's seed, draws a stratified validation
subset, and only then streams the images with Keras's decoding and resizing
(``tf.image.decode_image`` + bilinear ``tf.image.resize``). The labels of every split
are known before a single image is decoded, so the split check can count them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlab.data.checks.splits import stratified_indices, validation_count
from dlab.errors import ConfigError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def class_files(folder: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every image below ``folder/<class>/`` (recursive, sorted), and its label (class index)."""
    paths, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(
            str(f) for f in (folder / name).rglob("*") if f.suffix.lower() in SUFFIXES and f.is_file()
        )
        paths += found
        labels += [label] * len(found)
    return np.asarray(paths, dtype=object), np.asarray(labels, dtype=np.int32)


def shuffled(paths: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The list permuted with ``np.random.RandomState(seed)`` (the classes mixed)."""
    order = np.arange(len(paths))
    np.random.RandomState(seed).shuffle(order)
    return paths[order], labels[order]


def split_off_validation(
    paths: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(train, validation) file lists: a random ``fraction``, stratified by class.

    Raises:
        ConfigError: the fraction leaves no training or no validation image.
    """
    count = len(paths)
    n_val = validation_count(count, fraction)
    if n_val < 1 or n_val >= count:
        raise ConfigError(
            f"data.validation={fraction!r} leaves {count - n_val} of {count} training images "
            f"for training and {n_val} for validation; both need at least one. Use another "
            "fraction, 'split' (the validation/ folder) or 'test'."
        )
    is_val = np.zeros(count, dtype=bool)
    is_val[stratified_indices(labels, n_val, seed)] = True
    return (paths[~is_val], labels[~is_val]), (paths[is_val], labels[is_val])


def image_stream(paths: np.ndarray, labels: np.ndarray, image_size: tuple[int, int], channels: int) -> Any:
    """An unbatched tf.data stream of (uint8 image, int32 label) in the order of ``paths``.

    Decoded and resized as ``image_dataset_from_directory`` does (``decode_image`` with
    ``expand_animations=False``, bilinear ``resize``), then rounded back to uint8.
    """
    import tensorflow as tf

    height, width = image_size

    def load(path, label):
        image = tf.image.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        image = tf.image.resize(image, (height, width), method="bilinear")
        image.set_shape((height, width, channels))
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    stream = tf.data.Dataset.from_tensor_slices((paths.astype(str), labels.astype(np.int32)))
    return stream.map(load, num_parallel_calls=tf.data.AUTOTUNE)
