"""The dataset cache: where Keras keeps downloads, one download at a time, and the offline message.

Runs started together share the Keras dataset cache (``~/.keras/datasets``).
Keras downloads to the final name and extracts archives in place, so two runs
fetching CIFAR-10 at once can read each other's half-written files.
:func:`dataset_lock` serializes them: the first run downloads, the others wait
and then find the cached file. The lock (:class:`filelock.FileLock`: ``fcntl.flock``
on POSIX, ``LockFileEx`` on Windows) is released by the operating system when a
process dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from dlab.errors import DataError
from dlab.runtime.tfenv import keras_cache_dir


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` (created if needed) while the block runs.

    Blocks until no other process holds it. Where the lock file cannot be created
    (a read-only cache: then nothing can be downloaded into it either, and Keras
    says so), the block simply runs.

    Each call makes a new :class:`filelock.FileLock` (``is_singleton=False``, not
    reentrant), so two threads of one process wait for each other as two processes do
    (a nested lock of the same file in one thread waits for itself; filelock 4 raises
    a RuntimeError instead). It is not thread-local (``thread_local=False``): the hold
    belongs to this block, in whichever thread its generator is finished. On POSIX the
    file stays after the block, so every waiter locks the same file; filelock removes
    it on Windows.
    """
    from filelock import FileLock

    lock_path = Path(path)
    lock = FileLock(lock_path, thread_local=False, is_singleton=False)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()  # no timeout: filelock's Timeout (an OSError) cannot happen here
    except OSError as error:
        logging.getLogger("dlab.data.formats.cache").warning(
            "cannot create the lock file %s (%s); going on without it", lock_path, error
        )
        yield lock_path
        return
    try:
        yield lock_path
    finally:
        lock.release()


def dataset_lock(entry: str) -> contextlib.AbstractContextManager[Path]:
    """Lock the Keras cache entry ``entry`` (e.g. ``mnist.npz``) while it is fetched.

    The lock file is ``<keras cache>/<entry>.lock``, next to the entry.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", entry)
    return file_lock(keras_cache_dir() / f"{safe}.lock")


def offline_error(
    name: str,
    downloads: Sequence[tuple[str, str]],
    error: BaseException,
    local: str,
    cache_dir: Path | None = None,
    what: str = "dataset",
) -> DataError:
    """The one-paragraph explanation a user gets when a download fails: what, where, how to go offline.

    Args:
        name: the dataset.
        downloads: (URL, file name under the Keras cache) of every file Keras fetches.
        error: what the download raised.
        local: how to read a local copy instead, e.g. "run with --set data.source=file ...".
        cache_dir: where Keras looks for the files (default: its datasets cache).
        what: what is downloaded, in words ("dataset", "ImageNet weights").
    """
    urls = ", ".join(url for url, _ in downloads)
    targets = ", ".join(str((cache_dir or keras_cache_dir()) / file) for _, file in downloads)
    one = len(downloads) == 1
    return DataError(
        f"Could not download the {name} {what} from {urls} ({error}). To use the real data "
        f"without network access, download {'that file' if one else 'those files'} on another "
        f"machine and save {'it' if one else 'them'} as {targets} (where Keras looks before "
        f"downloading), or {local}. To try the whole pipeline offline on synthetic data, add "
        "--smoke."
    )


T = TypeVar("T")


def download(
    name: str,
    downloads: Sequence[tuple[str, str]],
    local: str,
    fetch: Callable[[], T],
    lock: str | None = None,
) -> T:
    """Fetch a dataset into the Keras cache: once across concurrent runs, offline -> one paragraph.

    Every ``keras`` source goes through here, so that runs started together download
    and extract a cache entry once (a file lock, :func:`dataset_lock`), and a failed
    download becomes the one-paragraph :func:`offline_error` (exit code 2).

    Args:
        name: the dataset, for the message (and the lock, unless ``lock`` is given).
        downloads: (URL, file under the Keras cache) of every file ``fetch`` downloads.
        local: how to read a local copy instead (see :func:`offline_error`).
        fetch: does the download and returns what the caller needs, e.g.
            ``keras.datasets.mnist.load_data`` or a ``keras.utils.get_file`` call.
        lock: the cache entry to lock, when several fetches of one dataset differ.

    Raises:
        DataError: the download failed; a DataError raised by ``fetch`` itself (a hash
            mismatch, a bad archive) passes through unchanged.
    """
    try:
        with dataset_lock(lock or name):
            return fetch()
    except DataError:
        raise
    except Exception as error:  # get_file raises a bare Exception on URL failures
        raise offline_error(name, downloads, error, local) from error
