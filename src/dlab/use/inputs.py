"""Raw inputs as a model's input: image files and folders, text lines, CSV rows, .npz arrays.

Each reader follows the run's inference.json, so an input is prepared exactly as
the run's data was: images decoded and resized as ``image_dataset_from_directory``
does (TensorFlow's decoder, bilinear resize, rounded back to uint8), documents
turned into word ids by the run's own vocabulary, table columns picked by name.
An input that cannot be read is returned as :class:`Skipped` (the command goes on
and exits 1), and so is a table row holding NaN or a number too large for the model's
float32 (a CSV row and an .npz row alike). Input that can never fit the model, or that a
cast would silently change, raises :class:`~dlab.errors.UsageError` (exit 2) before
anything is predicted: a missing CSV column, arrays of the wrong shape, an .npz that is
empty, cut off or holds image values outside 0..255 (NaN, 300 and -5 would all become some
uint8 pixel), a file with no rows or documents, a binary file given as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlab.data.formats.npz import open_npz
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


def _npz_arrays(path: Path, shape: tuple[int, ...], what: str) -> tuple[str, np.ndarray]:
    """The array of an .npz (key ``x``, or its only array) shaped (N, *shape), and its key.

    Raises:
        UsageError: an empty, cut-off or damaged file, no such array, one that holds no samples
            or no numbers, or one whose sample shape is not ``shape``.
    """
    with open_npz(path) as archive:
        keys = list(archive.keys())
        if not keys:
            raise UsageError(f"{path}: the .npz holds no arrays; save them with numpy.savez(FILE, x=...).")
        key = "x" if "x" in keys else (keys[0] if len(keys) == 1 else None)
        if key is None:
            raise UsageError(f"{path}: an .npz input needs an array named 'x' (it has {', '.join(keys)}).")
        array = archive[key]
    if not (array.dtype == bool or np.issubdtype(array.dtype, np.number)):
        raise UsageError(f"{path}: array '{key}' holds {array.dtype} values; the model takes numbers.")
    if len(shape) == 3 and shape[-1] == 1 and array.ndim in (2, 3) and array.shape[-2:] == shape[:2]:
        array = array[..., None]  # grayscale images saved without their channel axis, as mnist.npz
    if array.shape == shape:
        array = array[None]
    if array.shape[1:] != shape:
        raise UsageError(
            f"{path}: array '{key}' has shape {array.shape}; this run's model takes {what} of shape "
            f"{shape}, so the array must be (N, {', '.join(map(str, shape))})."
        )
    if not len(array):
        raise UsageError(f"{path}: array '{key}' holds no samples (shape {array.shape}); nothing to predict.")
    return key, array


def _pixels(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    """Image arrays as the uint8 pixels the model takes, refusing what a cast would change.

    Raises:
        UsageError: values that are not whole numbers 0..255 (NaN, 300, -5, 0.5), with how many
            and the first one's position.
    """
    if array.dtype == np.uint8:
        return array
    values = array.astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0) | (values > 255) | (values != np.floor(values))
    if bad.any():
        at = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape))
        finite = values[np.isfinite(values)]
        scaled = finite.size and finite.min() >= 0 and finite.max() <= 1
        hint = " (the array looks scaled to 0..1: multiply it by 255)" if scaled else ""
        raise UsageError(
            f"{path}: array '{key}' holds {int(bad.sum()):,} values that are not pixel values (whole "
            f"numbers 0..255), e.g. {key}[{', '.join(map(str, at))}] = {values[at].item()!r}; a cast to "
            f"uint8 would turn each into some other pixel{hint}. The run's model takes raw pixels: "
            "fix the array (e.g. np.clip and np.round) and save it again."
        )
    return array.astype(np.uint8)


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
            key, batch = _npz_arrays(path, (height, width, channels), "images")
            names += [f"{path.name}[{i}]" for i in range(len(batch))]
            arrays += list(_pixels(path, key, batch))
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
    """(name, text) per document: a file gives one per non-empty line, any other argument is one.

    Raises:
        UsageError: a file that is not text (see :func:`text_of`) or holds no document.
    """
    documents = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_file():
            lines = text_of(path).splitlines()
            found = [(f"{path.name}:{n}", line) for n, line in enumerate(lines, 1) if line.strip()]
            if not found:
                raise UsageError(
                    f"{path}: no documents in it (it is empty or holds only blank lines); dlab "
                    "predict reads one document per non-empty line."
                )
            documents += found
        else:
            documents.append((item if len(item) <= 40 else item[:37] + "...", item))
    return documents


def text_of(path: Path) -> str:
    """A text file's contents, refusing a binary one: a NUL byte or bytes that are not UTF-8.

    Read leniently, a 2 MB binary file became 55,107 "documents" of replacement characters,
    each one predicted.

    Raises:
        UsageError: the file is not UTF-8 text (where the first offending byte is).
    """
    data = path.read_bytes()
    nul = data.find(b"\0")
    if nul >= 0:
        raise UsageError(
            f"{path}: not a text file (a NUL byte at offset {nul:,}); dlab predict reads text files "
            "as UTF-8, one document per line. Give a UTF-8 text file (save a UTF-16 one as UTF-8)."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"{path}: not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start:,} is not "
            "UTF-8); dlab predict reads text files as UTF-8, one document per line. Save it as UTF-8."
        ) from None


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


def read_text(inputs: list[str], text: dict[str, Any], vocabulary: list[str]) -> Batch:
    """Documents encoded as the run's model reads them: multi-hot or padded word ids.

    Args:
        vocabulary: the run's words, line number = word id (empty for the ``ids`` scheme).
    """
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
            _, block = _npz_arrays(path, (len(features),), "rows")
            labels = [f"{path.name}[{i}]" for i in range(len(block))]
            _add_finite_rows(labels, block.astype(np.float64), features, {}, names, rows, skipped)
            continue
        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
        except (OSError, ValueError, UnicodeDecodeError) as error:
            skipped.append(Skipped(item, f"cannot be read as a CSV ({error})"))
            continue
        if frame.empty:
            raise UsageError(
                f"{path}: no rows in it (it is empty or holds only a header); give a CSV with a "
                "header and at least one row."
            )
        unknown = _one_hot_columns(frame, categories or {})
        missing = [name for name in features if name not in frame.columns]
        if missing:
            raise UsageError(
                f"{path} lacks the feature column(s) {', '.join(missing)}. This run's model reads "
                f"{len(features)} columns by name: {', '.join(features)}. Add them to the header "
                "(other columns are ignored)."
            )
        values = frame[features].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
        labels = [f"{path.name}:{number}" for number in range(1, len(values) + 1)]
        _add_finite_rows(labels, values, features, unknown, names, rows, skipped)
    x = np.stack(rows) if rows else np.zeros((0, len(features)), np.float32)
    return Batch(names, x, skipped)


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _add_finite_rows(
    labels: list[str],
    values: np.ndarray,
    features: list[str],
    unknown: dict[int, str],
    names: list[str],
    rows: list[np.ndarray],
    skipped: list[Skipped],
) -> None:
    """Append the rows the model can read (as float32) to ``names``/``rows``, the others to ``skipped``.

    The same rule for a CSV and an .npz: a row holding NaN (an empty or non-number cell), an
    infinity or a number beyond float32 (1e300 would reach the model as inf) is skipped with
    its columns, as is a row whose category the run never saw (``unknown``, by row index).
    """
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (np.abs(values) > FLOAT32_MAX)
    for index, (label, row) in enumerate(zip(labels, values, strict=True)):
        if index in unknown:
            skipped.append(Skipped(label, unknown[index]))
        elif bad[index].any():
            cells = [_why_not_finite(features[i], row[i]) for i in np.flatnonzero(bad[index])]
            skipped.append(Skipped(label, "; ".join(cells)))
        else:
            names.append(label)
            rows.append(row.astype(np.float32))


def _why_not_finite(column: str, value: float) -> str:
    if np.isnan(value):
        return f"{column} is not a number (empty, text or NaN)"
    return f"{column} = {value:g} is beyond float32 (the model's numbers reach {FLOAT32_MAX:.3g})"
