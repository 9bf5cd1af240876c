"""Image-classification datasets (CIFAR-10, MNIST, Fashion-MNIST ...) from any source.

A dataset module describes its data once with an :class:`ImageDatasetSpec` and
calls :func:`load_image_classification`; this module does the rest for every
source, so the datasets share one implementation instead of one copy each:

- ``keras``: ``keras.datasets.<name>.load_data()``, which downloads and caches.
- ``file``: an ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (the
  layout ``keras.datasets`` returns), loaded without pickle.
- ``dir``: a class-folder tree ``train/<class>/*.png`` and ``test/<class>/*.png``,
  resized to the dataset's image size (or the Keras cache's own folder layouts).
- ``synthetic``: one low-resolution random prototype per class, upsampled and
  blended with noise: the real shapes, dtypes and labels, learnable in an epoch.

Pixels stay ``uint8`` (0-255) as Keras returns them; models rescale inside the
graph, which keeps the arrays four times smaller than float32 copies.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dlab.data import ArrayDataset, require_path
from dlab.data.checks.splits import shuffle_if_grouped
from dlab.data.checks.values import check_finite, check_labels
from dlab.data.formats import keras_images
from dlab.data.formats.cache import download
from dlab.data.formats.npz import READ_ERRORS as NPZ_READ_ERRORS
from dlab.data.formats.npz import why_unreadable
from dlab.errors import DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class ImageDatasetSpec:
    """What an image-classification dataset looks like when Keras loads it.

    Attributes:
        name: dataset name (``data.dataset``).
        image_shape: (height, width, channels) of one image.
        class_names: label names, index = label.
        train_size, test_size: sizes of the real splits.
        keras_module: ``keras.datasets.<keras_module>.load_data`` loads it.
        downloads: (URL, path under ``~/.keras/datasets``) of every file Keras
            downloads, for the offline message (where to put them by hand).
        label_column: Keras returns labels as (N, 1) (CIFAR) rather than (N,) (MNIST).
    """

    name: str
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    train_size: int
    test_size: int
    keras_module: str
    downloads: tuple[tuple[str, str], ...]
    label_column: bool = False

    @property
    def url(self) -> str:
        """Where the (first) file comes from; recorded as the run's data location."""
        return self.downloads[0][0]


def load_image_classification(spec: ImageDatasetSpec, config: DataConfig, seed: int) -> ArrayDataset:
    """Load ``spec``'s dataset from ``config.source`` (``load_dataset`` then keeps the first N).

    Raises:
        DataError: a missing or malformed file/folder, or a failed download.
    """
    layout, order = None, "as published (Keras's order)"
    if config.source == "keras":
        (x_train, y_train), (x_test, y_test) = _from_keras(spec)
        location, class_names = spec.url, list(spec.class_names)
    elif config.source == "file":
        path = require_path(config, keras_images.file_layouts(spec), kind="file")
        (x_train, y_train), (x_test, y_test), layout, order = _from_file(spec, path, seed)
        location, class_names = str(path), list(spec.class_names)
    elif config.source == "dir":
        path = require_path(config, keras_images.dir_layouts(spec), kind="dir")
        (x_train, y_train), (x_test, y_test), class_names, layout, order = _from_dir(spec, path, seed)
        location = str(path)
    else:
        order = "random (generated from the seed)"
        n_train = config.train_samples or spec.train_size
        n_test = config.test_samples or spec.test_size
        (x_train, y_train), (x_test, y_test) = synthetic_images(spec, n_train, n_test, seed)
        location, class_names = None, list(spec.class_names)

    return ArrayDataset(
        name=spec.name,
        source=config.source,
        location=location,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=class_names,
        order=order,
        extra={"layout": layout} if layout else {},
    )


# --------------------------------------------------------------------------- keras


def _from_file(spec: Any, path: Path, seed: int):
    """(train, test, layout, order) of data.source=file: a CIFAR archive or an .npz."""
    if spec.name == "cifar10" and tarfile.is_tarfile(path):
        (x_train, y_train), (x_test, y_test) = keras_images.read_cifar_archive(path)
        return (
            (x_train, y_train),
            (x_test, y_test),
            f"{path.name}: CIFAR-10's python archive, read as keras.datasets.cifar10 reads it",
            "as published (Keras's order)",
        )
    (x_train, y_train), (x_test, y_test) = _from_npz(spec, path)
    x_train, y_train, train_note = shuffle_if_grouped(x_train, y_train, seed, "training")
    x_test, y_test, test_note = shuffle_if_grouped(x_test, y_test, seed + 1, "test")
    notes = [note for note in (train_note, test_note) if note]
    return (
        (x_train, y_train),
        (x_test, y_test),
        f"{path.name}: x_train, y_train, x_test, y_test",
        "; ".join(notes) or "the file's order (as keras.datasets.mnist keeps mnist.npz)",
    )


def _from_dir(spec: Any, path: Path, seed: int):
    """(train, test, class names, layout, order) of data.source=dir: a Keras folder or a tree."""
    names = list(spec.class_names)
    cifar = keras_images.find_cifar_folder(path) if spec.name == "cifar10" else None
    if cifar is not None:
        train, test = keras_images.read_cifar_folder(cifar)
        return train, test, names, f"{cifar.name}/: CIFAR-10's python batches", "as published (Keras's order)"
    if spec.name in ("mnist", "fashion_mnist") and keras_images.is_idx_folder(path):
        (x_train, y_train), (x_test, y_test) = keras_images.read_idx_folder(path)
        return (
            (_pixels(spec, x_train), _labels(spec, y_train)),
            (_pixels(spec, x_test), _labels(spec, y_test)),
            names,
            f"{path.name}/: the four idx .gz files",
            "as published (Keras's order)",
        )
    (x_train, y_train), (x_test, y_test), classes = _from_class_folders(spec, path)
    rng = np.random.default_rng(seed)  # the files were read class by class
    train, test = rng.permutation(len(y_train)), rng.permutation(len(y_test))
    return (
        (x_train[train], y_train[train]),
        (x_test[test], y_test[test]),
        classes,
        f"{path.name}/: train/ and test/ class folders",
        "the files read class by class, then permuted with the run's seed",
    )


def _from_keras(spec: ImageDatasetSpec):
    import keras

    loader = getattr(keras.datasets, spec.keras_module)
    (x_train, y_train), (x_test, y_test) = download(
        spec.name, spec.downloads, local_copy(spec), loader.load_data
    )
    return ((_pixels(spec, x_train), _labels(spec, y_train)), (_pixels(spec, x_test), _labels(spec, y_test)))


def local_copy(spec: ImageDatasetSpec) -> str:
    """How to read a local copy of an image dataset, for the offline paragraph."""
    return (
        f"{keras_images.local_files(spec)}, or save the arrays as an .npz with {', '.join(NPZ_KEYS)} and run "
        f"with --set data.source=file --set data.path=/path/to/{spec.name}.npz (a class-folder "
        "tree with train/ and test/ works too: --set data.source=dir --set data.path=DIR)"
    )


# --------------------------------------------------------------------------- file


def _from_npz(spec: ImageDatasetSpec, path: Path):
    if not path.is_file():
        raise DataError(
            f"data.path '{path}' is a folder; data.source=file expects an .npz file "
            f"with {', '.join(NPZ_KEYS)} (use data.source=dir for a class-folder tree)."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise DataError(
                    f"{path} lacks the arrays {', '.join(missing)}; it has "
                    f"{', '.join(archive.files) or 'none'}. An {spec.name} .npz needs "
                    f"{', '.join(NPZ_KEYS)} (the layout keras.datasets.{spec.keras_module}."
                    "load_data() returns)."
                )
            arrays = {key: archive[key] for key in NPZ_KEYS}
    except DataError:
        raise
    except NPZ_READ_ERRORS as error:
        raise DataError(
            f"Cannot read {path} as an .npz file ({why_unreadable(path, error)}). data.source=file expects "
            f"numpy.savez output with {', '.join(NPZ_KEYS)}."
        ) from error
    for split in ("train", "test"):
        _check_split(spec, path, split, arrays[f"x_{split}"], arrays[f"y_{split}"])
    return (
        (_pixels(spec, arrays["x_train"]), _labels(spec, arrays["y_train"])),
        (_pixels(spec, arrays["x_test"]), _labels(spec, arrays["y_test"])),
    )


def _check_split(spec: ImageDatasetSpec, path: Path, split: str, x: np.ndarray, y: np.ndarray) -> None:
    height, width, channels = spec.image_shape
    shape_ok = x.shape[1:] == spec.image_shape or (channels == 1 and x.shape[1:] == (height, width))
    if x.ndim < 3 or not shape_ok:
        raise DataError(
            f"{path}: x_{split} has shape {x.shape}; {spec.name} images must be "
            f"(N, {height}, {width}, {channels})."
        )
    if len(x) != len(y) or y.size != len(y):
        raise DataError(
            f"{path}: x_{split} has {len(x)} images but y_{split} has shape "
            f"{y.shape}; expected one integer label per image."
        )
    check_labels(path, f"y_{split}", y)  # before the cast to uint8 below hides NaN and 3.7
    check_finite(path, f"x_{split}", x)
    if len(y) and (y.min() < 0 or y.max() >= len(spec.class_names)):
        raise DataError(
            f"{path}: y_{split} holds labels from {y.min()} to {y.max()}; "
            f"{spec.name} labels are 0..{len(spec.class_names) - 1}."
        )


def _pixels(spec: ImageDatasetSpec, x: np.ndarray) -> np.ndarray:
    x = x.reshape((len(x), *spec.image_shape))
    if x.dtype != np.uint8:
        x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return x


def _labels(spec: ImageDatasetSpec, y: np.ndarray) -> np.ndarray:
    y = np.asarray(y).astype(np.uint8).reshape(-1)
    return y.reshape(-1, 1) if spec.label_column else y


# --------------------------------------------------------------------------- dir


_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def _class_folders(spec: ImageDatasetSpec | None, root: Path, split: str) -> list[str]:
    """The sorted class folders of ``root/split``, after checking every image can be read."""
    folder = root / split
    if not folder.is_dir():
        raise DataError(
            f"data.path '{root}' has no {split}/ folder. data.source=dir expects "
            f"{root}/train/<class>/*.png and {root}/test/<class>/*.png (one folder per class; "
            f"images: {', '.join(IMAGE_SUFFIXES)})."
        )
    return check_class_folders(folder)


def check_class_folders(folder: Path) -> list[str]:
    """The sorted class folders of ``folder``, after checking that every one holds images and
    that every image's header can be read (a broken file is named here; TensorFlow's decoder
    would stop in the middle of an epoch without saying which file it was).

    Raises:
        DataError: no class folders with images, an empty class folder, or an unreadable image.
    """
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    # recursive, as keras.utils.image_dataset_from_directory reads a class folder
    images_by_class = {
        c: [f for f in sorted((folder / c).rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]
        for c in classes
    }
    images = [f for files in images_by_class.values() for f in files]
    if not images:
        raise DataError(
            f"{folder} holds no images in class folders. Put each image in a folder named "
            f"after its class, e.g. {folder}/cat/001.png (images: {', '.join(IMAGE_SUFFIXES)})."
        )
    empty = [c for c, files in images_by_class.items() if not files]
    if empty:
        raise DataError(
            f"Class folder(s) {', '.join(str(folder / c) for c in empty)} hold no images "
            f"({', '.join(IMAGE_SUFFIXES)}). Every class folder needs at least one image: add "
            "images or remove the folder (labels come from the sorted folder names)."
        )
    for image in images:
        check_image_file(image)
    return classes


def check_image_file(image: Path) -> None:
    """Check that ``image`` is a PNG/JPEG/GIF/BMP whose header Pillow can parse.

    Raises:
        DataError: naming the file, what is wrong, and what to do.
    """
    with open(image, "rb") as handle:
        head = handle.read(8)
    if not head.startswith(_SIGNATURES):
        raise DataError(
            f"{image} is not a PNG, JPEG, GIF or BMP image (its first bytes are "
            f"{head!r}). Remove or replace it."
        )
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(image) as opened:
            opened.verify()  # parses the header (and the PNG chunk checksums) without decoding
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as error:
        raise DataError(f"{image} cannot be read as an image ({error}). Remove or replace it.") from None


def _from_class_folders(spec: ImageDatasetSpec, root: Path):
    if not root.is_dir():
        raise DataError(
            f"data.path '{root}' is a file; data.source=dir expects a folder with "
            "train/ and test/ class folders (use data.source=file for an .npz)."
        )
    train_classes = _class_folders(spec, root, "train")
    test_classes = _class_folders(spec, root, "test")
    if train_classes != test_classes:
        raise DataError(
            f"train/ and test/ in '{root}' have different class folders "
            f"({', '.join(train_classes)} vs {', '.join(test_classes)}); labels come from the "
            "sorted folder names, so both need the same folders."
        )
    train = _read_image_folder(spec, root / "train", train_classes)
    test = _read_image_folder(spec, root / "test", train_classes)
    return train, test, train_classes


def _read_image_folder(spec: ImageDatasetSpec, folder: Path, classes: list[str]):
    height, width, channels = spec.image_shape
    dataset = image_folder_dataset(folder, classes, (height, width), channels)
    images, labels = [], []
    for x, y in dataset.batch(256).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    x = np.concatenate(images)
    return _pixels(spec, x), _labels(spec, np.concatenate(labels))


def image_folder_dataset(
    folder: Path,
    classes: list[str],
    image_size: tuple[int, int],
    channels: int = 3,
    shuffle: bool = False,
    seed: int | None = None,
    validation_split: float | None = None,
):
    """One split of a class-folder tree as an unbatched tf.data stream of (uint8 image, label).

    ``keras.utils.image_dataset_from_directory`` decodes and resizes; the images
    are cast back to uint8 so that a cache of them is four times smaller than
    float32. With ``shuffle``, Keras shuffles the file list once from ``seed``
    (so the classes are mixed) and the file paths again on every pass, before
    anything is decoded.

    Args:
        classes: the class folders, in label order.
        image_size: (height, width) every image is resized to.
        channels: 1 converts to grayscale, 3 to RGB.
        validation_split: also return the last fraction of the (seeded, shuffled) file
            list as a second stream: ``(train, validation)``, never overlapping.
    """
    import keras
    import tensorflow as tf

    dataset = keras.utils.image_dataset_from_directory(
        folder,
        labels="inferred",
        label_mode="int",
        class_names=classes,
        color_mode="grayscale" if channels == 1 else "rgb",
        image_size=tuple(image_size),
        batch_size=None,
        shuffle=shuffle,
        seed=seed,
        validation_split=validation_split,
        subset="both" if validation_split else None,
        verbose=False,
    )

    def as_uint8(stream):
        return stream.map(
            lambda x, y: (tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    if validation_split:
        return as_uint8(dataset[0]), as_uint8(dataset[1])
    return as_uint8(dataset)


# --------------------------------------------------------------------------- synthetic


def synthetic_images(spec: ImageDatasetSpec, n_train: int, n_test: int, seed: int, signal: float = 0.5):
    """A deterministic twin of ``spec``: real shapes and dtypes, a learnable signal.

    Each class gets a random 4x4 prototype image, upsampled to full size; a sample
    is ``signal * prototype + (1 - signal) * uniform noise``, as uint8. Every class
    appears equally often (give or take one), in random order. Train and
    test share the prototypes, so what is learned on one transfers to the other.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` shaped like Keras's arrays.
    """
    rng = np.random.default_rng(seed)
    height, width, channels = spec.image_shape
    n_classes = len(spec.class_names)
    coarse = rng.uniform(0, 255, size=(n_classes, 4, 4, channels)).astype(np.float32)
    rows = np.linspace(0, 3, height).round().astype(int)
    cols = np.linspace(0, 3, width).round().astype(int)
    prototypes = coarse[:, rows][:, :, cols]

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        # every class equally often (in random order), so that even a smoke run's tiny
        # splits hold every class and pass the split check
        labels = rng.permutation(np.resize(np.arange(n_classes), n))
        images = np.empty((n, height, width, channels), dtype=np.uint8)
        for start in range(0, n, 4096):  # bounded float32 scratch memory
            stop = min(start + 4096, n)
            noise = rng.uniform(0, 255, size=(stop - start, height, width, channels))
            blend = signal * prototypes[labels[start:stop]] + (1 - signal) * noise
            images[start:stop] = blend.astype(np.uint8)
        return images, _labels(spec, labels)

    return make(n_train), make(n_test)
