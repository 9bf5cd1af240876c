"""File locks: one process at a time downloads or extracts a shared cache entry.

Runs started together share the Keras dataset cache (``~/.keras/datasets``).
Keras downloads to the final name and extracts archives in place, so two runs
fetching CIFAR-10 at once can read each other's half-written files.
:func:`dataset_lock` serializes them: the first run downloads, the others wait
and then find the cached file. ``fcntl.flock`` locks are released by the
kernel when a process dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; runs there are not serialized
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` (created if needed) while the block runs.

    Blocks until no other process holds it. Without ``fcntl`` (Windows), or where
    the lock file cannot be created (a read-only cache: then nothing can be
    downloaded into it either, and Keras says so), the block simply runs.
    """
    lock_path = Path(path)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+b")  # noqa: SIM115 - closed below
    except OSError as error:
        logging.getLogger("dlab.locks").warning("cannot create the lock file %s (%s); "
                                                "going on without it", lock_path, error)
        yield lock_path
        return
    with handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield lock_path
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def dataset_lock(entry: str) -> contextlib.AbstractContextManager[Path]:
    """Lock the Keras cache entry ``entry`` (e.g. ``mnist.npz``) while it is fetched.

    The lock file is ``<keras cache>/<entry>.lock``, next to the entry.
    """
    from dlab.data import keras_cache_dir

    safe = re.sub(r"[^A-Za-z0-9._-]", "_", entry)
    return file_lock(keras_cache_dir() / f"{safe}.lock")
