"""Opening an .npz that a user made: every way a broken file fails becomes one clear DataError.

``np.load`` reports a damaged archive with a different exception for each kind of damage:
an empty file is an ``EOFError`` (which click turns into a bare "Aborted.", exit 1, with
nothing shown even under --debug), a file cut off while it was copied a
``zipfile.BadZipFile``, a damaged compressed member a ``zlib.error``, a short member a
``ValueError``. Every reader of a user's .npz (``dlab run``, ``evaluate``, ``predict``)
catches :data:`READ_ERRORS` and words the cause with :func:`why_unreadable`, or opens the
file with :func:`open_npz`, so each of them answers exit 2 with the file and what to do.
"""

from __future__ import annotations

import contextlib
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dlab.errors import DataError, UsageError

READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
)
"""What ``np.load`` and reading its arrays raise for a missing, empty, cut-off or damaged file."""


def why_unreadable(path: Path, error: BaseException) -> str:
    """The cause of a failed read in words a user can act on."""
    try:
        empty = Path(path).stat().st_size == 0
    except OSError:
        empty = False
    if empty or isinstance(error, EOFError):
        return "the file is empty, 0 bytes"
    if isinstance(error, (zipfile.BadZipFile, zlib.error)):
        return (
            "it is not a complete .npz archive: it was cut off while it was written or copied, or "
            f"numpy.savez did not write it; {type(error).__name__}: {error}"
        )
    return f"{type(error).__name__}: {error}"


@contextlib.contextmanager
def open_npz(path: Path) -> Iterator[Any]:
    """``np.load(path, allow_pickle=False)``, its errors (also those reading an array) as DataError.

    A :class:`~dlab.errors.UsageError` raised inside the ``with`` block passes unchanged.

    Raises:
        DataError: the file cannot be read as an .npz of arrays (the file and the cause).
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            yield archive
    except UsageError:
        raise
    except READ_ERRORS as error:
        raise DataError(
            f"Cannot read {path} as an .npz file: {why_unreadable(path, error)}. Save it again "
            "with numpy.savez."
        ) from None
