"""Your own folders: images or text files sorted into class folders, no dataset module needed.

Two layouts, for both datasets (the class names are the sorted folder names):

- ``DIR/<class>/FILE``: one folder per class. ``data.test_split`` of each class is held out
  as the test split (drawn with the run's seed, stratified by class), and the validation
  data is chosen from what is left as for every dataset (``data.validation``: a fraction is
  a stratified random subset, ``test`` the test split).
- ``DIR/train/<class>/``, ``DIR/test/<class>/`` and, for ``data.validation: split``,
  ``DIR/validation/<class>/`` (the dogs-vs-cats and aclImdb layouts). aclImdb's ``train/unsup/``
  (reviews without a label, which test/ does not have) is left out.

Files come from disk class by class (all of one class, then the next); every list is
permuted with the run's seed before anything is split or limited, so no split is one class.

``dataset: image_folder``: PNG, JPEG, GIF or BMP files, streamed with tf.data as the
class-folder trees of :mod:`dlab.data.modalities.folders` are (a :class:`StreamDataset`; the
images are never held as one array). Every image's header is checked before anything trains.
They are resized to ``data.image_size`` (default :data:`IMAGE_SIZE`), as uint8 RGB, or
grayscale when the first image is (the model gets 0-255 pixels: rescale inside it).

``dataset: text_folder``: ``.txt`` files, one document each, tokenized into lower-case
words (letters, digits and apostrophes; ``<br />`` is a space) and numbered by a vocabulary
of the ``data.num_words`` most frequent words of the training documents only (null: all of
them), as a Keras ``TextVectorization`` numbers them (0 padding, 1 an unknown word, then the
words by frequency). Documents are padded or cut to ``data.maxlen`` words (default
:data:`MAXLEN`; the last words are kept), an array per split. The vocabulary goes with the
run (``vocabulary.txt``), so ``dlab predict`` reads raw text the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dlab.data.contract import ArrayDataset, StreamDataset
from dlab.data.datasets.own_tables import holdout, own_path
from dlab.data.modalities.file_lists import class_files, image_stream, shuffled, split_off_validation
from dlab.data.modalities.folders import cache_stream
from dlab.data.modalities.images import check_class_folders
from dlab.data.modalities.text import pad
from dlab.data.registry import dataset
from dlab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from dlab.config import DataConfig

IMAGE_SIZE = 64
"""The square size images are resized to without ``data.image_size``."""

MAXLEN = 200
"""Words per document without ``data.maxlen``."""

FOLDER_NAMES = {"train": "train", "val": "validation", "test": "test"}
UNLABELLED = "unsup"
"""aclImdb's train/unsup/: reviews without a label (test/ has no such folder)."""

WORD = re.compile(r"[a-z0-9']+|#\d+")
"""A word, as ``dlab predict`` reads raw text (:func:`dlab.use.inputs.word_ids`): keep them alike."""

PAD, UNKNOWN = "", "[UNK]"
"""Ids 0 and 1 of a vocabulary, as TextVectorization's."""


@dataclass
class Tree:
    """A class-folder tree as file lists: each split's paths and labels, in a seeded random order.

    Attributes:
        lists: ``train``, ``test`` and (``DIR/validation/`` read for ``data.validation: split``)
            ``val`` -> (paths, labels).
        layout: what was found, in words (metrics.json).
        notes: what was left out, in words.
    """

    root: Path
    class_names: list[str]
    lists: dict[str, tuple[np.ndarray, np.ndarray]]
    layout: str
    notes: list[str] = field(default_factory=list)


def read_tree(
    root: Path,
    config: DataConfig,
    seed: int,
    classes_of: Callable[[Path], list[str]],
    files_of: Callable[[Path, list[str]], tuple[np.ndarray, np.ndarray]],
    what: str,
) -> Tree:
    """List the tree at ``root`` in either layout (see the module docstring).

    Args:
        classes_of: the checked, sorted class folders of a folder.
        files_of: every file of those classes below a folder, class by class, and its label.
        what: the files, in words ("images").

    Raises:
        DataError: a missing split folder, class folders that differ between splits, fewer
            than two classes, or what ``classes_of`` refuses (an empty class folder ...).
        ConfigError: ``data.validation: split`` without a validation/ folder.
    """
    if (root / "train").is_dir():
        return _split_tree(root, config, seed, classes_of, files_of, what)
    if config.validation == "split":
        raise ConfigError(
            f"data.validation=split reads DIR/validation/<class>/, and '{root}' is a folder of class "
            "folders without train/, validation/ and test/. Use a fraction (e.g. 0.2: a random "
            "share of the training files, stratified by class) or 'test'."
        )
    classes = _two_or_more(classes_of(root), root)
    paths, labels = files_of(root, classes)
    train, test = holdout(labels, "classification", config.test_split, seed, what=what)
    test = test[np.random.default_rng(seed + 2).permutation(len(test))]  # not class by class
    return Tree(
        root,
        classes,
        {"train": (paths[train], labels[train]), "test": (paths[test], labels[test])},
        f"{root.name}/<class>/ ({len(classes)} class folders; {len(test)} {what} held out as the "
        f"test split, data.test_split={config.test_split:g}, stratified by class, seed {seed})",
    )


def _split_tree(root, config, seed, classes_of, files_of, what) -> Tree:
    wanted = ["train", "test"] + (["val"] if config.validation == "split" else [])
    for split in wanted:
        if not (root / FOLDER_NAMES[split]).is_dir():
            extra = (
                " (or validate on a fraction of train/: --set data.validation=0.2)" if split == "val" else ""
            )
            raise DataError(
                f"data.path '{root}' has train/ but no {FOLDER_NAMES[split]}/ folder{extra}. Give "
                f"{root}/train/<class>/ and {root}/test/<class>/ (and validation/<class>/), or one "
                f"folder of class folders ({root}/<class>/), with {what} in them."
            )
    test_classes = classes_of(root / "test")
    skip = [UNLABELLED] if UNLABELLED not in test_classes else []
    classes: dict[str, list[str]] = {"test": test_classes}
    for split in [s for s in wanted if s != "test"]:
        classes[split] = classes_of(root / FOLDER_NAMES[split], skip=skip)
    notes = (
        [f"left out train/{UNLABELLED}/ (no labels)"]
        if skip and (root / "train" / UNLABELLED).is_dir()
        else []
    )
    for split in wanted:
        if classes[split] != classes["train"]:
            raise DataError(
                f"train/ and {FOLDER_NAMES[split]}/ in '{root}' have different class folders "
                f"({', '.join(classes['train'])} vs {', '.join(classes[split])}); labels come "
                "from the sorted folder names, so every split needs the same folders."
            )
    class_names = _two_or_more(classes["train"], root / "train")
    lists = {
        split: shuffled(*files_of(root / FOLDER_NAMES[split], class_names), seed + index)
        for index, split in enumerate(wanted)
    }
    folders = ", ".join(f"{FOLDER_NAMES[split]}/" for split in wanted)
    return Tree(
        root,
        class_names,
        lists,
        f"{root.name}/ with {folders} ({len(class_names)} class folders each); each split's files "
        "permuted with the run's seed",
        notes,
    )


def _two_or_more(classes: list[str], folder: Path) -> list[str]:
    if len(classes) < 2:
        raise DataError(
            f"{folder} has {len(classes)} class folder ({', '.join(classes) or 'none'}); a classifier "
            "needs at least two: one folder per class, named after it."
        )
    return classes


def _source(config: DataConfig) -> str:
    return config.source if config.source in ("file", "dir") else "dir"


# --------------------------------------------------------------------------- images


@dataset("image_folder")
def load_images(
    config: DataConfig, seed: int, image_size: int | None = None, channels: int | None = None
) -> StreamDataset:
    """The image tree at ``data.path`` as cached tf.data streams of (uint8 image, label).

    Args:
        image_size: resize to this square size (None: ``data.image_size``, else 64).
        channels: 1 (grayscale) or 3 (RGB); None: as the first image.

    Raises:
        ConfigError: a validation count, or 'split' without a validation/ folder.
        DataError: no path, a tree in neither layout, an empty class folder, an unreadable image.
    """
    root = own_path(
        config, "a folder of class folders of images (DIR/<class>/*.png)", "dir", sources=("file", "dir")
    )
    if isinstance(config.validation, int) and not isinstance(config.validation, float):
        raise ConfigError(
            f"data.validation={config.validation!r}: images in folders are validated on a fraction "
            "of the training images (e.g. 0.2, stratified by class), the test split ('test') or "
            "the validation/ folder ('split'), not a count."
        )
    tree = read_tree(root, config, seed, _image_classes, class_files, "images")
    height, width = _image_size(image_size or config.image_size)
    channels = channels or _channels(tree.lists["train"][0])
    lists = dict(tree.lists)
    if isinstance(config.validation, float):
        lists["train"], lists["val"] = split_off_validation(*lists["train"], config.validation, seed)
        words = (
            f"a random {config.validation:.0%} of the training images ({len(lists['val'][0])} images, "
            f"stratified by class, seed {seed})"
        )
    elif config.validation == "split":
        words = "the validation/ folder"
    else:
        words = "the test split"
    limits = {"train": config.train_samples, "val": config.test_samples, "test": config.test_samples}
    for split, limit in limits.items():
        if split in lists and limit:  # the first N of a shuffled list: a random subset
            lists[split] = (lists[split][0][:limit], lists[split][1][:limit])
    if "val" not in lists:
        lists["val"] = lists["test"]  # the same labels object: the split check counts it once
    streams: dict[str, Any] = {}
    for split in ("train", "test", "val"):
        if split == "val" and lists["val"] is lists["test"]:
            streams["val"] = streams["test"]
            continue
        paths, labels = lists[split]
        streams[split] = cache_stream(
            image_stream(paths, labels, (height, width), channels), config.cache, split
        )
    return StreamDataset(
        name=config.dataset,
        source=_source(config),
        location=str(root),
        splits=streams,
        sizes={split: len(labels) for split, (_, labels) in lists.items()},
        class_names=tree.class_names,
        image_shape=(height, width, channels),
        validation=words,
        cache=config.cache,
        seed=seed,
        split_labels={split: labels for split, (_, labels) in lists.items()},
        extra={
            "task": "classification",
            "layout": tree.layout,
            "order": "each split's file list permuted with the run's seed",
            "image_size": [height, width],
            "channels": channels,
            **({"notes": tree.notes} if tree.notes else {}),
        },
    )


def _image_classes(folder: Path, skip: list[str] | None = None) -> list[str]:
    classes = check_class_folders(folder)  # every class folder holds images, every header reads
    return [name for name in classes if name not in (skip or [])]


def _image_size(size: Any) -> tuple[int, int]:
    if size is None:
        return IMAGE_SIZE, IMAGE_SIZE
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def _channels(paths: np.ndarray) -> int:
    """1 when the first image is grayscale, else 3 (RGB; also for RGBA and palette images)."""
    from PIL import Image

    with Image.open(min(paths)) as image:  # the first in name order, whatever the seed
        return 1 if image.mode in ("1", "L", "LA", "I", "I;16", "F") else 3


# --------------------------------------------------------------------------- text


@dataset("text_folder")
def load_texts(config: DataConfig, seed: int) -> ArrayDataset:
    """The .txt tree at ``data.path`` as padded word-id arrays, with its vocabulary.

    Raises:
        ConfigError: 'split' without a validation/ folder.
        DataError: no path, a tree in neither layout, an empty class folder or file, a
            data.num_words below 3.
    """
    root = own_path(
        config, "a folder of class folders of .txt files (DIR/<class>/*.txt)", "dir", sources=("file", "dir")
    )
    if config.num_words is not None and config.num_words < 3:
        raise DataError(
            f"data.num_words={config.num_words}: ids 0 and 1 are padding and unknown words, so "
            "keep at least 3 (1 word)."
        )
    tree = read_tree(root, config, seed, _text_classes, _text_files, "documents")
    documents = {
        split: [words(read_document(path)) for path in paths] for split, (paths, _) in tree.lists.items()
    }
    vocabulary = build_vocabulary(documents["train"], config.num_words)
    index = {word: i for i, word in enumerate(vocabulary) if i > 1}
    maxlen = config.maxlen or MAXLEN
    x = {
        split: pad([[index.get(word, 1) for word in document] for document in docs], maxlen)
        for split, docs in documents.items()
    }
    y = {split: labels.astype(np.int64) for split, (_, labels) in tree.lists.items()}
    lengths = [len(document) for document in documents["train"]]
    return ArrayDataset(
        name=config.dataset,
        source=_source(config),
        location=str(root),
        x_train=x["train"],
        y_train=y["train"],
        x_test=x["test"],
        y_test=y["test"],
        x_val=x.get("val"),
        y_val=y.get("val"),
        validation="the validation/ folder" if "val" in x else "none",
        class_names=tree.class_names,
        vocabulary=vocabulary,
        order="each split's files permuted with the run's seed",
        extra={
            "task": "classification",
            "layout": tree.layout,
            "num_words": len(vocabulary),
            "maxlen": maxlen,
            "encoding": "padded",
            "words": (
                f"{len(vocabulary) - 2} of the training documents' most frequent words (ids 2 on; "
                "0 pads, 1 is an unknown word); documents padded or cut to the last "
                f"{maxlen} words (median length {int(np.median(lengths)) if lengths else 0})"
            ),
            **({"notes": tree.notes} if tree.notes else {}),
        },
    )


def _text_classes(folder: Path, skip: list[str] | None = None) -> list[str]:
    """The sorted class folders of ``folder`` (less ``skip``), each holding .txt files.

    Raises:
        DataError: no class folders, or one without .txt files.
    """
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in (skip or []))
    empty = [name for name in classes if not any((folder / name).rglob("*.txt"))]
    if not classes or len(empty) == len(classes):
        raise DataError(
            f"{folder} holds no .txt files in class folders. Put each document in a folder named "
            f"after its class, e.g. {folder}/pos/0_9.txt."
        )
    if empty:
        raise DataError(
            f"Class folder(s) {', '.join(str(folder / name) for name in empty)} hold no .txt files. "
            "Every class folder needs at least one document: add some or remove the folder (labels "
            "come from the sorted folder names)."
        )
    return classes


def _text_files(folder: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    paths, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(str(f) for f in (folder / name).rglob("*.txt") if f.is_file())
        paths += found
        labels += [label] * len(found)
    return np.asarray(paths, dtype=object), np.asarray(labels, dtype=np.int64)


def read_document(path: str) -> str:
    """The text of one file (undecodable bytes replaced).

    Raises:
        DataError: an empty file, named.
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise DataError(f"{path} is empty; remove it or put the document's text in it.")
    return text


def words(text: str) -> list[str]:
    """A document's words: lower case, ``<br />`` a space, letters, digits and apostrophes."""
    return WORD.findall(text.replace("<br />", " ").lower())


def build_vocabulary(documents: list[list[str]], num_words: int | None) -> list[str]:
    """``["", "[UNK]", words ...]``: the most frequent words first (ties alphabetical), at most
    ``num_words`` entries in all (None: every word of ``documents``)."""
    counts = Counter(word for document in documents for word in document)
    ranked = sorted(counts, key=lambda word: (-counts[word], word))
    if num_words is not None:
        ranked = ranked[: num_words - 2]
    return [PAD, UNKNOWN, *ranked]
