"""Word-index sequences in .npz files: read without running pickles, checked against num_words.

Keras's own ``imdb.npz`` and ``reuters.npz`` store ragged lists as object arrays, which
NumPy can only read through pickle; :func:`read_npz_safely` rebuilds them with an
unpickler that builds arrays and lists and refuses anything else.
"""

from __future__ import annotations

import io
import logging
import pickle
import zipfile
from pathlib import Path

import numpy as np

from dlab.errors import DataError


def flatten_sequences(sequences) -> tuple[np.ndarray, np.ndarray]:
    """All word indices in one array, and the document each belongs to."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    flat = (
        np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
        if len(sequences)
        else np.zeros(0, np.int64)
    )
    rows = np.repeat(np.arange(len(sequences)), lengths)
    return flat, rows


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and lists of numbers, and refuses every other class."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def read_npz_safely(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an .npz; object arrays (ragged sequences) only through an
    unpickler that builds arrays and lists and nothing else."""
    arrays: dict[str, np.ndarray] = {}
    pickled: list[str] = []
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not member.endswith(".npy"):
                    continue
                with archive.open(member) as raw:
                    handle = io.BytesIO(raw.read())
                version = np.lib.format.read_magic(handle)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                _, _, dtype = read_header(handle)
                if dtype.hasobject:
                    array = _ArraysOnlyUnpickler(handle).load()
                else:
                    handle.seek(0)
                    array = np.lib.format.read_array(handle, allow_pickle=False)
                arrays[member[:-4]] = np.asarray(array, dtype=object) if dtype.hasobject else array
                if dtype.hasobject:
                    pickled.append(member[:-4])
    except (zipfile.BadZipFile, ValueError, pickle.UnpicklingError, EOFError) as error:
        raise DataError(f"Cannot read {path} as an .npz of word-index sequences ({error}).") from None
    if pickled:  # say so: pickle is the one format here that could run code if read carelessly
        logging.getLogger("dlab.data").warning(
            "%s: read the object arrays %s (ragged word-index lists, stored with pickle) through "
            "dlab's restricted unpickler, which builds NumPy arrays and lists and refuses "
            "anything else",
            path,
            ", ".join(pickled),
        )
    return arrays


def check_word_indices(path: Path, split: str, x, num_words: int) -> None:
    """Refuse word indices outside 0..num_words-1 in an already encoded file, saying what to set.

    Raises:
        DataError: naming the file, the split and the largest index.
    """
    flat, _ = flatten_sequences(x)
    if flat.size and flat.max() >= num_words:
        raise DataError(
            f"{path}: x_{split} contains word index {int(flat.max())}, but data.num_words is "
            f"{num_words}. Set --set data.num_words={int(flat.max()) + 1} (or more), or "
            "re-encode the file with fewer words."
        )
    if flat.size and flat.min() < 0:
        raise DataError(f"{path}: x_{split} contains negative word indices.")


# --------------------------------------------------------------------------- dir (aclImdb)
