"""Writing the resume backup so that a full disk fails cleanly.

Keras writes ``.weights.h5`` files through HDF5. When the disk fills up in the middle
of one, Python gets an OSError, but HDF5 keeps the half-written file open in its own
bookkeeping and flushes it again when the interpreter exits: the process dies with
SIGSEGV, metrics.json still says "running", run.log is cut, and the temporary
weights file stays behind. So the weights are serialized into memory (HDF5 on a
``BytesIO``, the way Keras writes the weights inside a ``.keras`` archive) and the
bytes are written by :func:`dlab.fileio.atomic_write_bytes`: a full disk is then an
ordinary OSError, the temporary file is removed, and HDF5 never touches the disk.
The cost is one copy of the weights in memory while the backup is written. Where
Keras's internals differ (another Keras version), ``model.save_weights`` is used as
before.

A failed write becomes :class:`BackupFailed` ("no space left on device while writing
the backup ..."): the run ends "failed" with that reason and exit code 1, the last
good backup stays named in ``training_metadata.json``, and ``--resume`` continues from
it once there is space again.
"""

from __future__ import annotations

import errno
import io
import shutil
from pathlib import Path
from typing import Any

from dlab.errors import RunFailed
from dlab.fileio import atomic_path, atomic_write_bytes, atomic_write_json
from dlab.run.resume import read_backup_metadata

METADATA = "training_metadata.json"


class BackupFailed(RunFailed):
    """The resume backup could not be written (disk full, no permission ...)."""


def _weights_in_memory(model: Any) -> bytes | None:
    """The model's ``.weights.h5`` bytes (model and optimizer state), or None when this
    Keras has no in-memory weights store."""
    try:
        from keras.src.saving.saving_lib import H5IOStore, _save_state
    except ImportError:
        return None
    buffer = io.BytesIO()
    try:
        store = H5IOStore(buffer, mode="w")
    except (TypeError, ValueError):
        return None
    try:
        _save_state(model, store, None, "", set())
    finally:
        store.close()
    return buffer.getvalue()


def write_weights(model: Any, target: Path) -> None:
    """Write ``model``'s weights to ``target`` (a ``.weights.h5`` file) atomically."""
    data = _weights_in_memory(model)
    if data is not None:
        atomic_write_bytes(target, data)
        return
    with atomic_path(target) as tmp:  # pragma: no cover - older or newer Keras internals
        weights_tmp = tmp.with_name(tmp.name + ".weights.h5")  # Keras wants this suffix
        try:
            model.save_weights(str(weights_tmp), overwrite=True)
            weights_tmp.replace(tmp)
        finally:
            weights_tmp.unlink(missing_ok=True)


def save_backup(model: Any, folder: Path, epoch: int, complete: bool = False) -> None:
    """Back up ``model`` after ``epoch``: new weights file, then the metadata naming it, then
    the older weights removed (the metadata always names complete weights).

    Args:
        complete: training has ended (``fit`` returned): a resume evaluates this model
            instead of training on.

    Raises:
        BackupFailed: a write failed; the previous backup is untouched.
    """
    name = f"epoch-{epoch}.weights.h5"
    try:
        folder.mkdir(exist_ok=True)
        write_weights(model, folder / name)
        atomic_write_json(
            folder / METADATA,
            {"epoch": epoch, "batch": 0, "weights": name, **({"complete": True} if complete else {})},
        )
    except OSError as error:
        (folder / name).unlink(missing_ok=True)
        raise backup_failed(error, folder, epoch) from None
    for old in folder.glob("epoch-*.weights.h5"):
        if old.name != name:
            old.unlink(missing_ok=True)


def remove_resume_state(run_dir: Path) -> None:
    """A run that completed needs no backup and no best-epoch checkpoint any more."""
    shutil.rmtree(run_dir / "backup", ignore_errors=True)
    (run_dir / "checkpoint-best.keras").unlink(missing_ok=True)


def backup_failed(error: OSError, folder: Path, epoch: int) -> BackupFailed:
    """The message of a failed backup write: what happened and what to do."""
    kept = read_backup_metadata(folder)
    previous = f"the backup of epoch {kept['epoch']} is kept" if kept else "there is no earlier backup"
    what = (
        "no space left on device"
        if error.errno == errno.ENOSPC
        else f"cannot write ({error.strerror or error})"
    )
    return BackupFailed(
        f"{what} while writing the backup of epoch {epoch} in {folder}; "
        f"{previous}. Free disk space, then `dlab run ... --resume` continues "
        "from the last good backup."
    )
