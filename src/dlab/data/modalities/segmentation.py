"""Segmentation datasets: images paired with integer masks, streamed with tf.data.

Any folder of images with one mask per image works, in two layouts:

- the Oxford-IIIT Pets layout: ``images/*.jpg`` and ``annotations/trimaps/*.png``
  (trimap values 1 pet, 2 background, 3 border; the class is value - 1), and
- ``images/`` + ``masks/``: a mask ``masks/<stem>.png`` for every ``images/<stem>.*``,
  whose values plus ``data.mask_offset`` are the classes ``0..data.num_classes-1``.

The result is a :class:`dlab.data.StreamDataset` whose streams yield
``(uint8 image (H, W, 3), uint8 mask (H, W, 1))``, so training reads it like
every other stream (:func:`dlab.training.fit_inputs`): nothing is held as one
array (7,390 pet images at 200x200 are 0.9 GB as uint8); files are decoded and
resized in a parallel tf.data map and cached after the first pass (``data.cache``).

Everything that would otherwise fail mid-training is checked first: every image's
header (:func:`dlab.data.modalities.images.check_image_file`), every mask is an 8-bit
grayscale PNG of its image's size whose values after the offset lie in
``0..num_classes-1``; an error names the file and the value.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dlab.data import StreamDataset
from dlab.data.modalities.folders import cache_stream
from dlab.data.modalities.images import IMAGE_SUFFIXES, check_image_file
from dlab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig

# One 8-bit channel: TensorFlow's PNG decoder turns palette PNGs into their colours (then gray)
# and scales 1/2/4-bit ones to 0..255, so class numbers survive only in 8-bit grayscale PNGs or
# in palette PNGs whose colours are the gray levels of their indices (checked per mask).
MASK_MODES = ("L", "P")
SHUFFLE_SEED = 1337  # the order Deep Learning with Python shuffles the pet images in


@dataclass(frozen=True)
class Layout:
    """Where a tree keeps its images and masks, and the offset and classes its masks default to.

    Attributes:
        default_classes: None: the largest mask value after the offset + 1.
    """

    images: Path
    masks: Path
    default_offset: int
    name: str
    default_classes: int | None = None


def find_layout(root: Path) -> Layout:
    """The layout of ``root``: pets (``annotations/trimaps/``) or ``masks/``.

    Raises:
        DataError: ``root`` lacks images/ or a mask folder.
    """
    expected = (
        f"{root}/images/<name>.jpg with {root}/annotations/trimaps/<name>.png (the "
        f"Oxford pets layout) or {root}/masks/<name>.png"
    )
    if not (root / "images").is_dir():
        raise DataError(f"data.path '{root}' has no images/ folder. A segmentation dataset needs {expected}.")
    if (root / "annotations" / "trimaps").is_dir():
        return trimaps_layout(root / "images", root / "annotations" / "trimaps")
    if (root / "masks").is_dir():
        return Layout(root / "images", root / "masks", 0, "images + masks")
    raise DataError(
        f"data.path '{root}' has images/ but no annotations/trimaps/ or masks/ "
        f"folder. A segmentation dataset needs {expected}."
    )


def trimaps_layout(images: Path, trimaps: Path) -> Layout:
    """The Oxford pets layout: trimap values 1, 2, 3 are the classes 0, 1, 2."""
    return Layout(images, trimaps, -1, "oxford pets trimaps", default_classes=3)


def pair_files(layout: Layout) -> tuple[list[Path], list[Path]]:
    """Every image with its mask (same name, .png), in sorted order; hidden files skipped.

    Raises:
        DataError: no images, or images without a mask (the first few are named).
    """
    images = sorted(
        p
        for p in layout.images.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )
    if not images:
        raise DataError(f"{layout.images} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
    masks = [layout.masks / f"{image.stem}.png" for image in images]
    missing = [image for image, mask in zip(images, masks, strict=True) if not mask.is_file()]
    if missing:
        named = ", ".join(p.name for p in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise DataError(
            f"{len(missing)} of {len(images)} images have no mask in {layout.masks} "
            f"({named}); every image <name>.jpg needs a mask <name>.png there."
        )
    return images, masks


def check_pair(image_path: Path, mask_path: Path) -> tuple[int, int]:
    """Check one image (header) and its mask (decoded); return the mask's (min, max) value.

    Raises:
        DataError: the image is unreadable, the mask is not an 8-bit grayscale PNG, or
            their sizes differ (the files are named).
    """
    from PIL import Image

    check_image_file(image_path)
    with Image.open(image_path) as image:
        size = image.size
    try:
        with Image.open(mask_path) as mask:
            if mask.format != "PNG" or mask.mode not in MASK_MODES:
                raise DataError(
                    f"{mask_path} is a {mask.format} image in mode {mask.mode}; masks "
                    "must be 8-bit grayscale (or gray palette) PNGs whose pixel "
                    "values are the class numbers (in PIL: "
                    "Image.fromarray(uint8_array).save(path))."
                )
            values = np.asarray(mask)
            if mask.mode == "P" and not np.array_equal(values, np.asarray(mask.convert("L"))):
                raise DataError(
                    f"{mask_path} is a palette PNG whose colours are not the gray "
                    "levels of their class numbers, so its pixels would be read as "
                    "colours. Save masks as 8-bit grayscale PNGs whose pixel values "
                    "are the class numbers (in PIL: Image.fromarray(uint8_array))."
                )
    except DataError:
        raise
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError ... on bad files
        raise DataError(
            f"{mask_path} cannot be read as a PNG mask ({error}). Remove or replace it."
        ) from None
    if values.shape[::-1] != size:
        raise DataError(
            f"{mask_path} is {values.shape[1]}x{values.shape[0]} pixels but its image "
            f"{image_path} is {size[0]}x{size[1]}; a mask must have its image's size "
            "(one class number per pixel)."
        )
    return int(values.min()), int(values.max())


def check_pairs(images: list[Path], masks: list[Path], offset: int, num_classes: int | None) -> int:
    """Check every pair (threads: PIL decodes without the GIL); return the number of classes.

    Args:
        offset: the mask offset in use.
        num_classes: the number of classes, or None for the largest value after the offset + 1.

    Raises:
        DataError: the first bad pair in file order, or a mask value outside the classes
            (the file and the value are named).
    """
    with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        ranges = list(pool.map(check_pair, images, masks))
    classes = num_classes or max(high for _, high in ranges) + offset + 1
    for mask, (low, high) in zip(masks, ranges, strict=True):
        for value in (low, high):
            if not 0 <= value + offset < classes:
                raise DataError(
                    f"{mask} holds the mask value {value}, which is class {value + offset} after "
                    f"data.mask_offset={offset}; with {classes} classes the values after the "
                    f"offset must be 0..{classes - 1}. Fix the mask, or set data.mask_offset / "
                    "data.num_classes to match the masks."
                )
    if classes < 2:
        raise DataError(
            f"The masks in {masks[0].parent} hold a single class after "
            f"data.mask_offset={offset}; segmentation needs at least two."
        )
    return classes


def image_size(config: DataConfig, default: int) -> tuple[int, int]:
    """``data.image_size`` as (height, width), or ``default`` squared."""
    size = config.image_size or default
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def held_out_count(config: DataConfig, total: int) -> int:
    """How many images the validation split holds: ``data.validation`` as a count or fraction.

    Raises:
        ConfigError: 'test'/'split'/'none' (segmentation trees have no test split), or a
            count that leaves no training images.
    """
    spec = config.validation
    if isinstance(spec, str):
        raise ConfigError(
            f"data.validation='{spec}': a segmentation dataset has no test or "
            "validation split of its own; it holds out images for validation. Use "
            "a count (e.g. 1000, Deep Learning with Python's) or a fraction (0.15)."
        )
    count = int(round(total * spec)) if isinstance(spec, float) else int(spec)
    if not 1 <= count < total:
        raise ConfigError(
            f"data.validation={spec!r} holds out {count} of {total} images; both "
            "validation and training need at least one. Use a smaller count or "
            "fraction."
        )
    return count


def load_segmentation_folder(
    name: str,
    layout: Layout,
    config: DataConfig,
    seed: int,
    location: str,
    default_size: int,
    class_names: list[str] | None = None,
) -> StreamDataset:
    """Pair, check, split and stream the images and masks of ``layout`` (:func:`find_layout`).

    The pairs are shuffled in a fixed order (seed 1337, as Deep Learning with Python
    does) and the last ``data.validation`` images held out, so every run validates on
    the same images whatever its seed. They are also the test split: the best epoch's
    model is evaluated on them. ``data.train_samples`` keeps the first N training images.

    Args:
        class_names: names of the classes when there are that many (default "class 0" ...).

    Raises:
        ConfigError: a validation setting that cannot split the images.
        DataError: an unpaired image, an unreadable file, a bad mask size or value.
    """
    images, masks = pair_files(layout)
    offset = layout.default_offset if config.mask_offset is None else config.mask_offset
    classes = check_pairs(images, masks, offset, config.num_classes or layout.default_classes)
    if class_names is None or len(class_names) != classes:
        class_names = [f"class {i}" for i in range(classes)]
    n_val = held_out_count(config, len(images))
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(images))
    paths = {"train": order[:-n_val][: config.train_samples], "val": order[-n_val:]}
    size = image_size(config, default_size)

    def stream(rows):
        import tensorflow as tf

        files = tf.data.Dataset.from_tensor_slices(
            ([str(images[i]) for i in rows], [str(masks[i]) for i in rows])
        )
        return files.map(
            lambda x, y: read_pair(x, y, size, offset), num_parallel_calls=tf.data.AUTOTUNE
        )  # ordered: deterministic

    splits = {split: stream(rows) for split, rows in paths.items()}
    sizes = {split: len(rows) for split, rows in paths.items()}
    return _stream_dataset(
        name,
        config,
        seed,
        location,
        splits,
        sizes,
        class_names,
        size,
        {
            "layout": layout.name,
            "mask_offset": offset,
            "held_out": f"the last {n_val} images of a fixed shuffle (seed {SHUFFLE_SEED})",
        },
    )


def read_pair(image_path, mask_path, size: tuple[int, int], offset: int):
    """One image (bilinear) and its mask (nearest neighbour) resized to ``size``, as uint8."""
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(image_path), channels=3, expand_animations=False)
    image = tf.image.resize(image, size)  # bilinear, float32
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    mask = tf.io.decode_png(tf.io.read_file(mask_path), channels=1)
    mask = tf.image.resize(mask, size, method="nearest")  # keeps the class numbers
    mask = tf.cast(tf.cast(mask, tf.int32) + offset, tf.uint8)
    image.set_shape((*size, 3))
    mask.set_shape((*size, 1))
    return image, mask


def _stream_dataset(name, config, seed, location, splits, sizes, class_names, size, extra) -> StreamDataset:
    # the held-out images validate every epoch and test the best epoch's model
    splits = {split: cache_stream(stream, config.cache, split) for split, stream in splits.items()}
    splits["test"], sizes = splits["val"], {**sizes, "test": sizes["val"]}
    return StreamDataset(
        name=name,
        source=config.source,
        location=location,
        splits=splits,
        sizes=sizes,
        class_names=list(class_names),
        image_shape=(*size, 3),
        validation=f"{sizes['val']} held-out images (also the test split)",
        cache=config.cache,
        seed=seed,
        extra={"task": "segmentation", "mask_shape": [*size, 1], **extra},
    )


# --------------------------------------------------------------------------- synthetic


def synthetic_segmentation(
    name: str, config: DataConfig, seed: int, total: int, default_size: int, class_names: list[str]
) -> StreamDataset:
    """The synthetic twin: ``total`` shapes with matching masks, drawn from (seed, index).

    ``data.train_samples`` (if set) + the held-out count replaces ``total``.
    """
    import tensorflow as tf

    classes = config.num_classes or len(class_names)
    names = class_names if classes == len(class_names) else [f"class {i}" for i in range(classes)]
    if config.train_samples:  # the held-out images come on top of the training ones
        fraction = config.validation if isinstance(config.validation, float) else None
        total = config.train_samples + (
            max(1, round(config.train_samples * fraction / (1 - fraction)))
            if fraction
            else held_out_count(config, total + 1)
        )
    n_val = held_out_count(config, total)
    size = image_size(config, default_size)
    ranges = {"train": (0, total - n_val), "val": (total - n_val, total)}
    splits = {
        split: tf.data.Dataset.range(start, stop).map(
            lambda index: synthetic_pair(index, seed, size, classes), num_parallel_calls=tf.data.AUTOTUNE
        )
        for split, (start, stop) in ranges.items()
    }
    sizes = {split: stop - start for split, (start, stop) in ranges.items()}
    return _stream_dataset(name, config, seed, None, splits, sizes, names, size, {})


def synthetic_pair(index, seed: int, size: tuple[int, int], num_classes: int):
    """Image and mask number ``index``: one shape on a noisy background, from (seed, index) alone.

    Like a trimap: the shape (an ellipse or a rectangle, random place, size and
    colour) is class 0, the background class 1, and a thin ring around the shape
    class 2 (with 3 or more classes); each further class adds a small square.
    Shapes are bright, backgrounds dark, so a model can learn to separate them.

    Returns:
        uint8 image (H, W, 3) and uint8 mask (H, W, 1), as tensors.
    """
    import tensorflow as tf

    height, width = size
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
    u = tf.random.stateless_uniform([8], seed=key)
    rows = tf.linspace(0.0, 1.0, height)[:, None]
    cols = tf.linspace(0.0, 1.0, width)[None, :]
    dy = (rows - (0.3 + 0.4 * u[0])) / (0.12 + 0.2 * u[2])
    dx = (cols - (0.3 + 0.4 * u[1])) / (0.12 + 0.2 * u[3])
    distance = tf.where(u[4] < 0.5, tf.sqrt(dy**2 + dx**2), tf.maximum(tf.abs(dy), tf.abs(dx)))
    mask = tf.where(distance <= 1.0, 0, 1)
    if num_classes >= 3:
        mask = tf.where((distance > 1.0) & (distance <= 1.25), 2, mask)
    for extra in range(3, num_classes):  # one small square per further class
        v = tf.random.stateless_uniform([2], seed=key + extra)
        inside = (tf.abs(rows - 0.1 - 0.8 * v[0]) < 0.08) & (tf.abs(cols - 0.1 - 0.8 * v[1]) < 0.08)
        mask = tf.where(inside, extra, mask)
    noise = tf.random.stateless_uniform([height, width, 3], seed=key + 100)
    colour = 140.0 + 100.0 * tf.random.stateless_uniform([num_classes, 3], seed=key + 200)
    colour = tf.tensor_scatter_nd_update(colour, [[1]], [tf.fill([3], 40.0)])  # dark background
    image = tf.gather(colour, mask) + 60.0 * (noise - 0.5)
    image = tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8)
    return image, tf.cast(mask, tf.uint8)[..., None]
