"""Class-folder image trees (train/, validation/, test/) streamed with tf.data.

Dogs vs cats is the reference, but any tree ``DIR/<split>/<class>/*.jpg`` works
(``data.dataset: image_folders``); class names come from the sorted folders.
Unlike the array datasets of :mod:`dlab.data.modalities.images`, the images are never
held as one NumPy array: each split is an unbatched ``tf.data`` stream of
``(uint8 image, int label)`` that ``keras.utils.image_dataset_from_directory``
decodes and resizes, cached after the first pass (``data.cache``) and batched,
shuffled and prefetched by :meth:`dlab.data.StreamDataset.batches` when a model trains on
it. 2,000 images at 180x180 would fit in memory, but a user's tree may not:
``data.cache=none`` (or a file prefix) keeps memory flat.

Sources:

- ``dir``: the tree at ``data.path`` (the real dogs vs cats subset is Kaggle-gated:
  the error without a path says where to get it and how to lay it out).
- ``synthetic``: nothing is written to disk; the same shapes (uint8 RGB at the
  requested size, 2 classes) with a learnable signal, from
  :func:`dlab.data.modalities.images.synthetic_images`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlab.data import StreamDataset, require_path
from dlab.data.modalities.file_lists import class_files, image_stream, shuffled, split_off_validation
from dlab.data.modalities.images import (
    ImageDatasetSpec,
    check_class_folders,
    synthetic_images,
)
from dlab.errors import ConfigError, DataError, did_you_mean

if TYPE_CHECKING:
    from dlab.config import DataConfig

SPLITS = ("train", "val", "test")
FOLDER_NAMES = {"train": "train", "val": "validation", "test": "test"}


@dataclass(frozen=True)
class FolderDatasetSpec:
    """A named class-folder dataset: its classes, split sizes and where the real data lives.

    Attributes:
        name: ``data.dataset``.
        class_names: the class folders of the real tree (and of the synthetic twin).
        image_size: the size the images are resized to unless the model asks otherwise.
        sizes: images per split in the real tree (and the synthetic default).
        where: how to get the real tree, for the message when no path is given.
    """

    name: str
    class_names: tuple[str, ...]
    image_size: int
    sizes: dict[str, int]
    where: str


FOLDER_DATASETS: dict[str, FolderDatasetSpec] = {
    "dogs_vs_cats": FolderDatasetSpec(
        name="dogs_vs_cats",
        class_names=("cat", "dog"),
        image_size=180,
        sizes={"train": 2000, "val": 1000, "test": 2000},
        where=(
            "The real images are Kaggle's 'Dogs vs. Cats' competition data "
            "(https://www.kaggle.com/c/dogs-vs-cats/data, an account and the competition's "
            "rules are needed, so dlab cannot download it). Deep Learning with Python's subset: "
            "from the competition's train/ folder copy cat.0-999.jpg and dog.0-999.jpg to "
            "DIR/train/cat/ and DIR/train/dog/, 1000-1499 to DIR/validation/<class>/ and "
            "1500-2499 to DIR/test/<class>/"
        ),
    ),
    "image_folders": FolderDatasetSpec(
        name="image_folders",
        class_names=("class_a", "class_b"),
        image_size=180,
        sizes={"train": 2000, "val": 1000, "test": 2000},
        where="Any class-folder tree works: DIR/train/<class>/*.jpg, DIR/validation/<class>/ "
        "and DIR/test/<class>/ (PNG, JPEG, GIF or BMP)",
    ),
}


def folder_spec(name: str) -> FolderDatasetSpec:
    """The spec of a class-folder dataset.

    Raises:
        ConfigError: a dataset that is not a class-folder tree.
    """
    if name not in FOLDER_DATASETS:
        raise ConfigError(
            f"Unknown class-folder dataset '{name}' (data.dataset)."
            f"{did_you_mean(name, FOLDER_DATASETS)} These experiments read "
            f"{', '.join(FOLDER_DATASETS)} (image_folders: any class-folder tree)."
        )
    return FOLDER_DATASETS[name]


def load_folder_dataset(
    config: DataConfig, seed: int, image_size: int | None = None, channels: int = 3
) -> StreamDataset:
    """Read a class-folder tree (or its synthetic twin) as three cached tf.data streams.

    Every check (layout, class folders, every image's header) runs here, before a
    model is built or a run directory exists.

    Args:
        image_size: resize every image to this square size (None: the dataset's own).

    Raises:
        ConfigError: an unknown dataset, a validation setting trees cannot use.
        DataError: no path, a missing split, class folders that differ between splits,
            an empty class folder, an unreadable image (named).
    """
    spec = folder_spec(config.dataset)
    size = image_size or spec.image_size
    if config.source not in ("dir", "synthetic"):
        raise DataError(
            f"data.source={config.source} is not available for {spec.name}: it is "
            "read from a class-folder tree. Use data.source=dir with "
            "--set data.path=DIR, or data.source=synthetic (also what --smoke uses)."
        )
    if isinstance(config.validation, int) and not isinstance(config.validation, float):
        raise ConfigError(
            f"data.validation={config.validation!r}: a class-folder tree is "
            "validated on its validation/ folder ('split'), the test split "
            "('test') or a fraction of train/ (e.g. 0.2), not a count."
        )
    if config.validation == "none":
        raise ConfigError(
            "data.validation='none' is for NumPy experiments; Keras runs always "
            "validate. Use 'split' (the validation/ folder), 'test' or a fraction (e.g. 0.2)."
        )
    if config.source == "dir":
        if not config.path:
            raise DataError(
                f"data.source=dir needs data.path, the class-folder tree of "
                f"{spec.name}. {spec.where}; then run with --set data.path=DIR. "
                "To try the whole pipeline offline on synthetic images, add --smoke."
            )
        root = require_path(config, "a folder with train/, validation/ and test/ class folders", kind="dir")
        streams, sizes, class_names, labels = _from_tree(root, config, seed, size, channels)
        location = str(root)
    else:
        streams, sizes, class_names, labels = _synthetic(spec, config, seed, size, channels)
        location = None
    streams, sizes, words = _choose_validation(streams, sizes, config.validation)
    if config.source == "synthetic" and config.validation == "split":
        words = "the synthetic validation split"
    if config.validation == "test":
        labels["val"] = labels["test"]
    elif "val" not in labels:  # synthetic: the last part of the generated training images
        labels["train"], labels["val"] = labels["train"][: sizes["train"]], labels["train"][sizes["train"] :]
    cached = {split: cache_stream(stream, config.cache, split) for split, stream in streams.items()}
    return StreamDataset(
        name=spec.name,
        source=config.source,
        location=location,
        splits=cached,
        sizes=sizes,
        class_names=class_names,
        image_shape=(size, size, channels),
        validation=words,
        cache=config.cache,
        seed=seed,
        split_labels=labels,
        extra={
            "order": "each split's file list permuted with the run's seed"
            if config.source == "dir"
            else "random (generated from the seed)"
        },
    )


# --------------------------------------------------------------------------- dir


def _from_tree(root: Path, config: DataConfig, seed: int, size: int, channels: int):
    wanted = ["train", "test"] + (["val"] if config.validation == "split" else [])
    classes: dict[str, list[str]] = {}
    for split in wanted:
        folder = root / FOLDER_NAMES[split]
        if not folder.is_dir():
            extra = (
                " (or validate on a fraction of train/: --set data.validation=0.2)" if split == "val" else ""
            )
            raise DataError(
                f"data.path '{root}' has no {FOLDER_NAMES[split]}/ folder{extra}. "
                f"A class-folder tree is {root}/train/<class>/*.jpg, "
                f"{root}/validation/<class>/ and {root}/test/<class>/."
            )
        classes[split] = check_class_folders(folder)
    for split in wanted[1:]:
        if classes[split] != classes["train"]:
            raise DataError(
                f"train/ and {FOLDER_NAMES[split]}/ in '{root}' have different class folders "
                f"({', '.join(classes['train'])} vs {', '.join(classes[split])}); labels come "
                "from the sorted folder names, so every split needs the same folders."
            )
    class_names = classes["train"]
    # sample limits keep the first N of each seeded file list: the same images every epoch,
    # with or without a cache
    limits = {"train": config.train_samples, "val": config.test_samples, "test": config.test_samples}
    lists = {}
    for split in wanted:  # each split's file list, permuted with the seed: the classes mixed
        lists[split] = shuffled(*class_files(root / FOLDER_NAMES[split], class_names), seed)
    if isinstance(config.validation, float):  # a random share of train/, stratified by class
        lists["train"], lists["val"] = split_off_validation(*lists["train"], config.validation, seed)
    for split, limit in limits.items():
        if split in lists and limit:  # the first N of a shuffled list: a random subset
            lists[split] = (lists[split][0][:limit], lists[split][1][:limit])
    streams = {
        split: image_stream(paths, labels, (size, size), channels) for split, (paths, labels) in lists.items()
    }
    sizes = {split: len(labels) for split, (_, labels) in lists.items()}
    return streams, sizes, class_names, {split: labels for split, (_, labels) in lists.items()}


# --------------------------------------------------------------------------- synthetic


def _synthetic(spec: FolderDatasetSpec, config: DataConfig, seed: int, size: int, channels: int):
    import tensorflow as tf

    n_train = config.train_samples or spec.sizes["train"]
    n_test = config.test_samples or spec.sizes["test"]
    n_val = config.test_samples or spec.sizes["val"]
    twin = ImageDatasetSpec(
        name=spec.name,
        image_shape=(size, size, channels),
        class_names=spec.class_names,
        train_size=n_train,
        test_size=n_test,
        keras_module="",
        downloads=(),
    )
    # one draw, so validation shares the class prototypes with train and test
    (x_train, y_train), (x_held, y_held) = synthetic_images(twin, n_train, n_test + n_val, seed)
    x_test, y_test, x_val, y_val = x_held[:n_test], y_held[:n_test], x_held[n_test:], y_held[n_test:]
    arrays = {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}
    streams = {
        split: tf.data.Dataset.from_tensor_slices((x, y.astype("int32"))) for split, (x, y) in arrays.items()
    }
    sizes = {split: len(x) for split, (x, _) in arrays.items()}
    labels = {split: y.reshape(-1) for split, (_, y) in arrays.items()}
    if config.validation != "split":  # the validation images are taken from train (or test)
        del labels["val"]
    return streams, sizes, list(spec.class_names), labels


# --------------------------------------------------------------------------- validation, cache


def _choose_validation(streams: dict, sizes: dict, validation: Any):
    if validation == "split":
        return streams, sizes, "the validation/ folder"
    if validation == "test":
        return ({**streams, "val": streams["test"]}, {**sizes, "val": sizes["test"]}, "the test split")
    fraction = float(validation)
    if "val" in streams:  # a tree: train/ was already split, stratified (see _from_tree)
        return (
            streams,
            sizes,
            (f"a random {fraction:.0%} of train/ ({sizes['val']} images, stratified by class)"),
        )
    n_val = int(round(sizes["train"] * fraction))
    n_train = sizes["train"] - n_val
    if n_val < 1 or n_train < 1:
        raise ConfigError(
            f"data.validation={validation!r} leaves {n_train} of {sizes['train']} "
            f"training images for training and {n_val} for validation; both "
            "need at least one. Use another fraction, 'split' (the validation/ "
            "folder) or 'test'."
        )
    train = streams["train"]  # synthetic: a fixed order, so take/skip never overlap
    return (
        {**streams, "train": train.take(n_train), "val": train.skip(n_train)},
        {**sizes, "train": n_train, "val": n_val},
        f"the last {fraction:.0%} of the training images ({n_val})",
    )


def cache_stream(stream, cache: str, split: str):
    """``stream`` cached as ``data.cache`` says: in memory, not at all, or in files ``PREFIX-split``.

    Raises:
        DataError: a file prefix in a folder that does not exist.
    """
    if cache == "none":
        return stream
    if cache == "memory":
        return stream.cache()
    prefix = Path(cache).expanduser()
    if not prefix.parent.is_dir():
        raise DataError(
            f"data.cache='{cache}': the folder {prefix.parent} does not exist. "
            "Use 'memory', 'none' or a file prefix in an existing folder."
        )
    return stream.cache(f"{prefix}-{split}")
