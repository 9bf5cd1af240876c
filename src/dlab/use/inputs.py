"""Raw inputs as a model's input: image files and folders, text lines, CSV rows, .npz arrays.

Each reader follows the run's inference.json, so an input is prepared exactly as
the run's data was: images decoded and resized as ``image_dataset_from_directory``
does (TensorFlow's decoder, bilinear resize, rounded back to uint8), documents
turned into word ids by the run's own vocabulary, table columns picked by name.
An input that cannot be read is returned as :class:`Skipped` (the command goes on
and exits 1); input that can never fit the model (a missing CSV column, arrays of
the wrong shape) raises :class:`~dlab.errors.UsageError` before anything is predicted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlab.data.modalities.images import check_image_file
from dlab.data.modalities.text import INDEX_FROM, OOV, START, multi_hot, pad
from dlab.errors import DataError, UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


@dataclass
class Skipped:
    """An input that could not be read: its name and why."""

    name: str
    reason: str


@dataclass
class Batch:
    """Inputs ready for ``model.predict``: one name per row of ``x``, plus the skipped ones."""

    names: list[str]
    x: Any
    skipped: list[Skipped]
    raw: Any = None


def _npz_arrays(path: Path, shape: tuple[int, ...], what: str) -> np.ndarray:
    """The array of an .npz (key ``x``, or its only array) shaped (N, *shape).

    Raises:
        UsageError: no such array, or one whose sample shape is not ``shape``.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            key = "x" if "x" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise UsageError(
                    f"{path}: an .npz input needs an array named 'x' (it has {', '.join(keys)})."
                )
            array = archive[key]
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: cannot read it as an .npz of numbers ({error}).") from None
    if len(shape) == 3 and shape[-1] == 1 and array.ndim in (2, 3) and array.shape[-2:] == shape[:2]:
        array = array[..., None]  # grayscale images saved without their channel axis, as mnist.npz
    if array.shape == shape:
        array = array[None]
    if array.shape[1:] != shape:
        raise UsageError(
            f"{path}: array '{key}' has shape {array.shape}; this run's model takes {what} of shape "
            f"{shape}, so the array must be (N, {', '.join(map(str, shape))})."
        )
    return array


# --------------------------------------------------------------------------- images


def image_files(inputs: list[str]) -> tuple[list[Path], list[Skipped]]:
    """Files given directly, and the images inside folders (sorted, recursive)."""
    files, missing = [], []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                missing.append(Skipped(item, f"the folder holds no images ({', '.join(IMAGE_SUFFIXES)})"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            missing.append(Skipped(item, "no such file or folder"))
    return files, missing


def decode_image(path: Path, height: int, width: int, channels: int) -> np.ndarray:
    """One image file as uint8 (height, width, channels), as the run's image pipeline reads it.

    Raises:
        ValueError: the file is not an image TensorFlow can decode (the message says why).
    """
    import tensorflow as tf

    try:
        check_image_file(path)
    except DataError as error:
        raise ValueError(str(error).replace(f"{path} ", "", 1)) from None
    try:
        image = tf.io.decode_image(path.read_bytes(), channels=channels, expand_animations=False)
    except (tf.errors.OpError, ValueError) as error:
        raise ValueError(f"cannot be decoded ({getattr(error, 'message', error)})") from None
    if tuple(image.shape[:2]) != (height, width):
        image = tf.image.resize(tf.cast(image, tf.float32), (height, width), method="bilinear")
        image = tf.clip_by_value(tf.round(image), 0, 255)
    return np.asarray(tf.cast(image, tf.uint8))


def read_images(inputs: list[str], image: dict[str, int]) -> Batch:
    """Image files, folders of images and .npz arrays of images, resized to the run's size."""
    height, width, channels = image["height"], image["width"], image["channels"]
    names: list[str] = []
    arrays: list[np.ndarray] = []
    files, skipped = image_files(inputs)
    for path in files:
        if path.suffix.lower() == ".npz":
            batch = _npz_arrays(path, (height, width, channels), "images")
            names += [f"{path.name}[{i}]" for i in range(len(batch))]
            arrays += list(batch.astype(np.uint8))
            continue
        try:
            arrays.append(decode_image(path, height, width, channels))
            names.append(str(path))
        except ValueError as error:
            skipped.append(Skipped(str(path), str(error)))
    x = np.stack(arrays) if arrays else np.zeros((0, height, width, channels), np.uint8)
    return Batch(names, x, skipped, raw=x)


# --------------------------------------------------------------------------- text


def read_documents(inputs: list[str]) -> list[tuple[str, str]]:
    """(name, text) per document: a file gives one per non-empty line, any other argument is one."""
    documents = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_file():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            documents += [(f"{path.name}:{n}", line) for n, line in enumerate(lines, 1) if line.strip()]
        else:
            documents.append((item if len(item) <= 40 else item[:37] + "...", item))
    return documents


_WORD = re.compile(r"[a-z0-9']+|#\d+")


def word_ids(text: str, scheme: str, index: dict[str, int], num_words: int) -> list[int]:
    """A document's word ids as the run's source numbered them (see ``inference.text_spec``)."""
    tokens = _WORD.findall(text.replace("<br />", " ").lower())
    if scheme == "vectorizer":
        return [index.get(token, 1) for token in tokens]
    ids = [] if tokens[:1] == [f"#{START}"] else [START]  # a decoded document keeps its own start mark
    for token in tokens:
        if token.startswith("#"):
            number = int(token[1:])
            ids.append(number if 0 < number < num_words else OOV)
        else:
            number = index.get(token, OOV)
            ids.append(number if INDEX_FROM <= number < num_words else OOV)
    return ids


def read_text(inputs: list[str], text: dict[str, Any], run_dir: Path) -> Batch:
    """Documents encoded as the run's model reads them: multi-hot or padded word ids."""
    vocabulary: list[str] = []
    if text.get("vocabulary"):
        vocabulary = (run_dir / text["vocabulary"]).read_text(encoding="utf-8").split("\n")
    index = {word: i for i, word in enumerate(vocabulary) if word}
    if text["scheme"] == "vectorizer":
        index = _vectorizer_index(vocabulary)
    documents = read_documents(inputs)
    skipped = [Skipped(name, "empty") for name, body in documents if not body.strip()]
    documents = [(name, body) for name, body in documents if body.strip()]
    sequences = np.empty(len(documents), dtype=object)
    sequences[:] = [word_ids(body, text["scheme"], index, text["num_words"]) for _, body in documents]
    if text["encoding"] == "multi_hot":
        x = multi_hot(sequences, text["num_words"])
    else:
        x = pad(sequences, text["maxlen"])
    return Batch([name for name, _ in documents], x, skipped, raw=[body for _, body in documents])


def _one_hot_columns(frame: Any, categories: dict[str, list[str]]) -> dict[int, str]:
    """Add ``COLUMN=VALUE`` columns for each categorical column the CSV has (in place).

    Returns:
        Row index -> why it cannot be predicted: a value the run never saw.
    """
    unknown: dict[int, str] = {}
    for column, levels in categories.items():
        if column not in frame.columns:
            continue
        values = frame[column].astype(str)
        for level in levels:
            frame[f"{column}={level}"] = (values == level).astype(np.float64)
        for index in np.flatnonzero(~values.isin(levels).to_numpy()):
            unknown.setdefault(
                int(index), f"{column} {values.iloc[index]!r} is not one of {', '.join(levels)}"
            )
    return unknown


def _vectorizer_index(vocabulary: list[str]) -> dict[str, int]:
    """TextVectorization's ids: 0 padding, 1 [UNK], then its words."""
    return {word: i for i, word in enumerate(vocabulary) if i > 1 and word}


# --------------------------------------------------------------------------- tables


def read_table(
    inputs: list[str], features: list[str], categories: dict[str, list[str]] | None = None
) -> Batch:
    """CSV rows (the run's feature columns by name, any order, extra columns ignored) or .npz rows.

    Args:
        categories: text columns the run one-hot encoded (``district`` -> its values): a CSV
            gives the text column and its ``district=north`` ... columns are made here, as the
            training data's were; a row with a value the run never saw is skipped, saying so.

    Raises:
        UsageError: a CSV without one of the feature columns (all of them are listed).
    """
    import pandas as pd

    names: list[str] = []
    rows: list[np.ndarray] = []
    skipped: list[Skipped] = []
    for item in inputs:
        path = Path(item).expanduser()
        if not path.is_file():
            skipped.append(Skipped(item, "no such file (give a CSV with a header, or an .npz)"))
            continue
        if path.suffix == ".npz":
            block = _npz_arrays(path, (len(features),), "rows")
            names += [f"{path.name}[{i}]" for i in range(len(block))]
            rows += list(block.astype(np.float32))
            continue
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError, UnicodeDecodeError) as error:
            skipped.append(Skipped(item, f"cannot be read as a CSV ({error})"))
            continue
        unknown = _one_hot_columns(frame, categories or {})
        missing = [name for name in features if name not in frame.columns]
        if missing:
            raise UsageError(
                f"{path} lacks the feature column(s) {', '.join(missing)}. This run's model reads "
                f"{len(features)} columns by name: {', '.join(features)}. Add them to the header "
                "(other columns are ignored)."
            )
        values = frame[features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        for number, row in enumerate(values, 1):
            if number - 1 in unknown:
                skipped.append(Skipped(f"{path.name}:{number}", unknown[number - 1]))
            elif np.isfinite(row).all():
                names.append(f"{path.name}:{number}")
                rows.append(row.astype(np.float32))
            else:
                bad = [features[i] for i in np.flatnonzero(~np.isfinite(row))]
                skipped.append(Skipped(f"{path.name}:{number}", f"not a number in {', '.join(bad)}"))
    x = np.stack(rows) if rows else np.zeros((0, len(features)), np.float32)
    return Batch(names, x, skipped)
