"""CIFAR-10's pickle batches and Fashion-MNIST's idx files, read as ``keras.datasets`` reads them.

- CIFAR-10 (``data.source=dir``): the ``cifar-10-batches-py`` folder (``data_batch_1`` ..
  ``data_batch_5``, ``test_batch``), or the folder Keras extracts it into
  (``cifar-10-batches-py-target``); ``data.source=file``: the ``.tar.gz`` itself, also
  under Keras's name for it (``cifar-10-batches-py-target_archive``), read without
  extracting. Each batch is a pickled dict (``data``: uint8 (N, 3072), channel-major
  32x32; ``labels``: N ints). Pickle can run code, so the batches are read with an
  unpickler that builds NumPy arrays and nothing else, and the result is checked to be
  exactly that dict of arrays, lists, bytes and ints before it is used.
- Fashion-MNIST (and MNIST's original files), ``data.source=dir``: a folder with
  ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
  ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (Keras's
  ``~/.keras/datasets/fashion-mnist``). The idx headers are checked, then the bytes are
  read at the offsets Keras reads them at (8 and 16).

The arrays equal what the Keras loader returns for the same bytes: training batches in
order 1..5, then the test batch; images transposed to (N, 32, 32, 3); no shuffling
(the published files are not in class order).
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from dlab.errors import DataError

CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
IDX_FILES = {
    "train_labels": "train-labels-idx1-ubyte.gz",
    "train_images": "train-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
}
IDX_MAGIC = {"labels": 2049, "images": 2051}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Builds NumPy arrays (and plain dicts, lists, bytes, numbers); refuses every other global."""

    ALLOWED = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def find_cifar_folder(path: Path) -> Path | None:
    """The folder holding CIFAR-10's batches: ``path`` itself or its ``cifar-10-batches-py``."""
    for folder in (path, path / CIFAR_FOLDER):
        if folder.is_dir() and any((folder / name).exists() for name in (*CIFAR_TRAIN, CIFAR_TEST)):
            return folder
    return None


def is_idx_folder(path: Path) -> bool:
    """True when ``path`` holds any of the four idx .gz files (Fashion-MNIST / MNIST)."""
    return path.is_dir() and any((path / name).exists() for name in IDX_FILES.values())


def read_cifar_folder(folder: Path) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """``keras.datasets.cifar10.load_data`` on a batches folder (any batch sizes).

    Raises:
        DataError: a missing batch file (named), or a batch that is not CIFAR's dict.
    """
    missing = [name for name in (*CIFAR_TRAIN, CIFAR_TEST) if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"{folder} lacks {', '.join(missing)}. A CIFAR-10 batches folder ({CIFAR_FOLDER}, as "
            f"Keras extracts it) holds {', '.join(CIFAR_TRAIN)} and {CIFAR_TEST}. Extract "
            "cifar-10-python.tar.gz again, or give the archive itself with "
            "--set data.source=file --set data.path=cifar-10-python.tar.gz."
        )
    return _assemble(lambda name: open(folder / name, "rb"), str(folder))


def read_cifar_archive(path: Path) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """The same from ``cifar-10-python.tar.gz`` (read in memory, nothing extracted).

    Raises:
        DataError: not a tar archive, or a batch missing from it.
    """
    wanted = {f"{CIFAR_FOLDER}/{name}": name for name in (*CIFAR_TRAIN, CIFAR_TEST)}
    try:
        with tarfile.open(path, "r:*") as archive:
            members = {
                wanted[m.name.lstrip("./")]: m
                for m in archive.getmembers()
                if m.name.lstrip("./") in wanted and m.isfile()
            }
            missing = [name for name in wanted.values() if name not in members]
            if missing:
                raise DataError(
                    f"{path} lacks {', '.join(f'{CIFAR_FOLDER}/{m}' for m in missing)}; "
                    "CIFAR-10's archive (cifar-10-python.tar.gz) holds all six "
                    "batches. Download it again."
                )
            return _assemble(lambda name: archive.extractfile(members[name]), str(path))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"Cannot read {path} as CIFAR-10's tar.gz archive ({error}).") from None


def _assemble(open_batch, where: str) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Batches 1..5 then the test batch, opened one at a time by ``open_batch(name)``."""

    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        with open_batch(name) as handle:
            return read_cifar_batch(handle, f"{where}: {name}")

    parts = [read(name) for name in CIFAR_TRAIN]
    x_train = np.concatenate([x for x, _ in parts]).transpose(0, 2, 3, 1)
    y_train = np.concatenate([y for _, y in parts]).astype(np.uint8).reshape(-1, 1)
    x_test, y_test = read(CIFAR_TEST)
    return (x_train, y_train), (x_test.transpose(0, 2, 3, 1), y_test.astype(np.uint8).reshape(-1, 1))


def read_cifar_batch(handle: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch's (uint8 images (N, 3, 32, 32), labels (N,)), as ``keras...cifar.load_batch``.

    Args:
        handle: the batch file, open for binary reading (or its bytes).

    Raises:
        DataError: a pickle that needs anything but NumPy arrays, or a dict that is not
            CIFAR's (what is wrong is named).
    """
    if isinstance(handle, bytes):
        handle = io.BytesIO(handle)
    try:
        batch = _NumpyOnlyUnpickler(handle, encoding="bytes").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        ImportError,
    ) as error:
        raise DataError(
            f"{where} is not a CIFAR-10 batch that is safe to read ({error}); a batch "
            "is a pickled dict of plain arrays and lists. It was not executed. "
            "Download the archive again."
        ) from None
    batch = _plain_batch(batch, where)
    data, labels = batch["data"], batch["labels"]
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"{where}: 'data' is {data.dtype} of shape {data.shape}; CIFAR-10 "
            "batches hold uint8 rows of 3072 values (3 x 32 x 32)."
        )
    labels = np.asarray(labels)
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{where}: 'labels' holds {labels.size} values for {len(data)} images; "
            "one integer label per image is expected."
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(
            f"{where}: labels range from {labels.min()} to {labels.max()}; CIFAR-10 labels are 0..9."
        )
    return data.reshape(len(data), 3, 32, 32), labels


def _plain_batch(batch: Any, where: str) -> dict[str, Any]:
    """The batch dict with str keys, after checking it holds only arrays, lists, bytes, ints."""
    if not isinstance(batch, dict):
        raise DataError(f"{where} holds a {type(batch).__name__}, not the dict of a CIFAR-10 batch.")
    plain: dict[str, Any] = {}
    for key, value in batch.items():
        name = key.decode("utf8", "replace") if isinstance(key, bytes) else key
        if not isinstance(name, str) or not _plain(value):
            raise DataError(
                f"{where}: the entry {name!r} is a {type(value).__name__}; a CIFAR-10 "
                "batch holds only arrays, lists, bytes and numbers. It was not used."
            )
        plain[name] = value
    missing = [key for key in ("data", "labels") if key not in plain]
    if missing:
        raise DataError(
            f"{where} lacks {', '.join(missing)}; it has {', '.join(plain) or 'nothing'}. "
            "A CIFAR-10 batch has 'data' and 'labels'."
        )
    if not isinstance(plain["data"], np.ndarray):
        raise DataError(f"{where}: 'data' is a {type(plain['data']).__name__}, not an array.")
    return plain


def _plain(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype != object
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, (int, bytes, str)) for v in value)
    return isinstance(value, (bytes, str, int, float))


# --------------------------------------------------------------------------- idx (Fashion-MNIST)


def read_idx_folder(folder: Path) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """``keras.datasets.fashion_mnist.load_data`` on a folder of the four idx .gz files.

    Raises:
        DataError: a missing file (named), a bad header, image and label counts that differ.
    """
    missing = [name for name in IDX_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"{folder} lacks {', '.join(missing)}. Fashion-MNIST as Keras keeps it "
            f"(~/.keras/datasets/fashion-mnist) is four files: "
            f"{', '.join(IDX_FILES.values())}."
        )
    splits = []
    for split in ("train", "test"):
        labels = read_idx(folder / IDX_FILES[f"{split}_labels"], "labels")
        images = read_idx(folder / IDX_FILES[f"{split}_images"], "images")
        if len(images) != len(labels) * 28 * 28:
            raise DataError(
                f"{folder}: {IDX_FILES[f'{split}_images']} holds {len(images)} pixels, "
                f"not 28 x 28 for each of the {len(labels)} labels in "
                f"{IDX_FILES[f'{split}_labels']}. A file is truncated: download it again."
            )
        splits.append((images.reshape(len(labels), 28, 28), labels))
    return splits[0], splits[1]


def read_idx(path: Path, kind: str) -> np.ndarray:
    """The flat uint8 values of a gzip'ed idx file of 28x28 ``images`` or of ``labels``.

    Raises:
        DataError: not gzip, a header that is not the kind's, or fewer values than it announces.
    """
    try:
        with gzip.open(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(f"Cannot read {path} as a gzip'ed idx file ({error}).") from None
    offset = 8 if kind == "labels" else 16
    header = np.frombuffer(content[:offset], dtype=">i4") if len(content) >= offset else None
    if header is None or header[0] != IDX_MAGIC[kind] or (kind == "images" and tuple(header[2:]) != (28, 28)):
        raise DataError(
            f"{path} is not an idx {kind} file of 28x28 images (its header is "
            f"{content[:offset]!r}; expected magic number {IDX_MAGIC[kind]})."
        )
    values = np.frombuffer(content, np.uint8, offset=offset)
    expected = int(header[1]) * (1 if kind == "labels" else 28 * 28)
    if len(values) != expected:
        raise DataError(
            f"{path}: its header announces {header[1]} {kind} but the file holds "
            f"{len(values)} bytes of them. Download it again."
        )
    return values


# --------------------------------------------------------------------------- dispatch (images.py)


def file_layouts(spec: Any) -> str:
    """What data.source=file reads for ``spec``, in words."""
    keras_file = {
        "mnist": "mnist.npz as Keras downloads it, or ",
        "cifar10": "cifar-10-python.tar.gz (Keras: cifar-10-batches-py-target_archive), or ",
    }
    return f"{keras_file.get(spec.name, '')}an .npz file with x_train, y_train, x_test, y_test"


def dir_layouts(spec: Any) -> str:
    """What data.source=dir reads for ``spec``, in words."""
    keras_dir = {
        "cifar10": f"the {CIFAR_FOLDER} folder, or ",
        "fashion_mnist": "a folder with the four idx .gz files (as ~/.keras/datasets/fashion-mnist), or ",
        "mnist": "a folder with the four idx .gz files, or ",
    }
    return f"{keras_dir.get(spec.name, '')}a folder with train/ and test/ class folders"


def local_files(spec: Any) -> str:
    """The offline paragraph's way to read the file Keras downloads."""
    if spec.name == "cifar10":
        return (
            "run with --set data.source=file --set data.path=cifar-10-python.tar.gz (the file "
            "Keras downloads; `dlab data import cifar10 FILE` puts it in the Keras cache), or "
            f"--set data.source=dir --set data.path=DIR/{CIFAR_FOLDER}"
        )
    if spec.name == "fashion_mnist":
        return (
            "run with --set data.source=dir --set data.path=DIR, DIR holding the four .gz files "
            "Keras downloads"
        )
    return (
        f"run with --set data.source=file --set data.path={spec.name}.npz (the file Keras "
        f"downloads; `dlab data import {spec.name} FILE` puts it in the Keras cache)"
    )
