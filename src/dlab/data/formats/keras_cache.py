"""The Keras download cache: which file goes where, with which hash, and offline imports.

``keras.datasets.<name>.load_data()`` looks for its file under ``~/.keras/datasets``
(``$KERAS_HOME/datasets``) and checks it against a hash before using it; a file
with another hash counts as outdated and is downloaded again. ``dlab data import
NAME PATH`` copies a file downloaded elsewhere to the exact place and name Keras
looks for, after checking it with the hash Keras checks, so that ``data.source:
keras`` then runs offline. A wrong file is refused with both hashes.

:data:`CACHE_FILES` lists every such file; the hashes are those the installed Keras
loaders pass to ``keras.utils.get_file`` (a test reads them back from Keras).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dlab.data.formats.cache import keras_cache_dir
from dlab.data.formats.keras_images import read_idx
from dlab.errors import DataError, did_you_mean
from dlab.fileio import file_hash

_GCS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


@dataclass(frozen=True)
class CacheFile:
    """One file a Keras download leaves in the cache.

    Attributes:
        dataset: ``data.dataset``.
        name: where it goes, relative to the cache's ``datasets`` folder.
        url: where Keras downloads it from.
        file_hash: the hash Keras (or dlab, for d2l's text) checks; None: none is checked.
        algorithm: ``sha256``, ``md5`` or ``sha1``.
        aliases: other names the same file is published under.
    """

    dataset: str
    name: str
    url: str
    file_hash: str | None = None
    algorithm: str = "sha256"
    aliases: tuple[str, ...] = ()


_FASHION = tuple(
    CacheFile("fashion_mnist", f"fashion-mnist/{name}", _GCS + name)
    for name in (
        "train-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
    )
)

CACHE_FILES: tuple[CacheFile, ...] = (
    CacheFile(
        "mnist",
        "mnist.npz",
        _GCS + "mnist.npz",
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    ),
    CacheFile(
        "imdb",
        "imdb.npz",
        _GCS + "imdb.npz",
        "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
    ),
    CacheFile(
        "imdb",
        "imdb_word_index.json",
        _GCS + "imdb_word_index.json",
        "bfafd718b763782e994055a2d397834f",
        "md5",
    ),
    CacheFile(
        "reuters",
        "reuters.npz",
        _GCS + "reuters.npz",
        "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",
    ),
    CacheFile(
        "reuters",
        "reuters_word_index.json",
        _GCS + "reuters_word_index.json",
        "4d44cc38712099c9e383dc6e5f11a921",
        "md5",
    ),
    CacheFile(
        "boston_housing",
        "boston_housing.npz",
        _GCS + "boston_housing.npz",
        "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5",
    ),
    CacheFile(
        "cifar10",
        "cifar-10-batches-py-target_archive",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        aliases=("cifar-10-python.tar.gz",),
    ),
    *_FASHION,
    CacheFile(
        "timemachine",
        "timemachine.txt",
        "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt",
        "090b5e7e70c295757f55df93cb0a180b9691891a",
        "sha1",
    ),
    CacheFile(
        "jena",
        "jena_climate_2009_2016.csv.zip",
        "https://s3.amazonaws.com/keras-datasets/jena_climate_2009_2016.csv.zip",
    ),
)


@dataclass
class Imported:
    """What ``dlab data import`` did with one file."""

    entry: CacheFile
    source: Path
    destination: Path
    check: str
    copied: bool


def cache_root() -> Path:
    """The folder Keras keeps datasets in (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``;
    ``DLAB_DATA_DIR`` sets ``KERAS_HOME`` for dlab's runs, so it counts here too)."""
    return keras_cache_dir()


def entries(dataset: str) -> list[CacheFile]:
    """The cache files of ``dataset``.

    Raises:
        DataError: a dataset without Keras cache files (the message lists those with).
    """
    found = [entry for entry in CACHE_FILES if entry.dataset == dataset]
    if not found:
        names = sorted({entry.dataset for entry in CACHE_FILES})
        raise DataError(
            f"'{dataset}' has no file dlab can import into the Keras cache.{did_you_mean(dataset, names)}"
            f" Importable: {', '.join(names)}. Other local copies are read in place with "
            "--set data.source=file (or dir) --set data.path=PATH."
        )
    return found


def import_files(dataset: str, path: Path, cache: Path | None = None) -> list[Imported]:
    """Check ``path`` (a file, or a folder of them) and copy it where Keras looks for it.

    Files that belong with it and lie next to it (``imdb_word_index.json`` beside
    ``imdb.npz``, the other Fashion-MNIST files) are imported too.

    Raises:
        DataError: no such path, a file that is none of the dataset's files, a hash that
            differs from the one Keras checks (both are named), a malformed unhashed file.
    """
    known = entries(dataset)
    path = path.expanduser()
    if not path.exists():
        raise DataError(
            f"'{path}' does not exist; give the file Keras downloads for {dataset} "
            f"({', '.join(_base(e) for e in known)})."
        )
    if path.is_dir():
        if dataset == "cifar10":
            raise DataError(
                f"'{path}' is a folder. Keras checks the hash of CIFAR-10's archive, "
                "not of the extracted batches: import cifar-10-python.tar.gz, or read "
                f"the folder in place with --set data.source=dir --set data.path={path}."
            )
        files = [path / _base(e) for e in known if (path / _base(e)).is_file()]
        if not files:
            raise DataError(f"'{path}' holds none of {', '.join(_base(e) for e in known)}.")
    else:
        files = [path] + [
            path.parent / _base(e)
            for e in known
            if _base(e) != path.name and (path.parent / _base(e)).is_file()
        ]
    root = cache or cache_root()
    return [_import_one(dataset, known, file, root) for file in files]


def _base(entry: CacheFile) -> str:
    return entry.name.rsplit("/", 1)[-1]


def _import_one(dataset: str, known: list[CacheFile], file: Path, root: Path) -> Imported:
    entry = _match(dataset, known, file)
    check = _check(entry, file)
    destination = root / entry.name
    if (
        destination.is_file()
        and entry.file_hash
        and file_hash(destination, entry.algorithm) == entry.file_hash
    ):
        return Imported(entry, file, destination, check, copied=False)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    os.close(handle)
    try:
        shutil.copyfile(file, temporary)
        os.replace(temporary, destination)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise DataError(
            f"Cannot write {destination} ({error}). Set KERAS_HOME to a writable "
            "folder (Keras then caches datasets in $KERAS_HOME/datasets)."
        ) from None
    return Imported(entry, file, destination, check, copied=True)


def _match(dataset: str, known: list[CacheFile], file: Path) -> CacheFile:
    """The entry ``file`` is: by hash, else by name, else the dataset's only file."""
    for entry in known:
        if entry.file_hash and file_hash(file, entry.algorithm) == entry.file_hash:
            return entry
    for entry in known:
        if file.name in (_base(entry), *entry.aliases):
            return entry
    hashed = [entry for entry in known if entry.file_hash]
    if len(hashed) == 1:
        return hashed[0]
    raise DataError(
        f"{file} is none of the {dataset} files Keras downloads "
        f"({', '.join(_base(e) for e in known)}); name it as Keras does."
    )


def _check(entry: CacheFile, file: Path) -> str:
    """Verify ``file`` as Keras would; return how it was checked, in words."""
    if entry.file_hash:
        actual = file_hash(file, entry.algorithm)
        if actual != entry.file_hash:
            raise DataError(
                f"{file} is not the {entry.dataset} file Keras downloads from {entry.url}: its "
                f"{entry.algorithm} is {actual}, and Keras expects {entry.file_hash}. Keras would "
                "discard it and download again. Download the file again (or check that it is "
                "the right one); nothing was copied."
            )
        return f"{entry.algorithm} {actual} matches"
    if entry.dataset == "fashion_mnist":
        read_idx(file, "images" if "images" in entry.name else "labels")
        return "no hash is published with it (Keras checks none); its idx header and size are right"
    try:
        with zipfile.ZipFile(file) as archive:
            if not any(name.endswith(".csv") for name in archive.namelist()):
                raise DataError(
                    f"{file} is a zip without a CSV; the Jena archive holds jena_climate_2009_2016.csv."
                )
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{file} is not the Jena zip archive ({error}).") from None
    return "no hash is published with it (Keras checks none); it is a zip holding the CSV"
