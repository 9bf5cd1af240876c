"""One dlab process at a time writing to an MLflow store: a file lock with a deadline.

Two things went wrong when processes shared a store without it. Two ``mlflow-sync``
runs both looked for a run's ``dlab.run_id`` tag, both found nothing and both logged
it (4 runs of 9 twice); and two processes opening a new SQLite store both ran
MLflow's schema migrations, and one died with "duplicate column name: step". Both
are a check followed by a write, so each is done under one exclusive lock per store:
opening the store (and creating its tables), and finding-then-logging a run.

The lock is :class:`filelock.FileLock` (``flock``; the kernel drops it when its
process dies, so a killed process never leaves a stale lock). For a local store it
sits beside the database (``mlflow.db.dlab-lock``), where every process using that
store sees it; for a server it is a file in the temporary folder named after the URI,
which orders the processes of this machine (MLflow's own checks remain for the rest).
Waiting has a deadline: ``DLAB_MLFLOW_LOCK_TIMEOUT`` seconds (default 300), after
which the command stops with a message naming the lock instead of waiting forever.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from filelock import FileLock, Timeout

from dlab.errors import UsageError

TIMEOUT_VARIABLE = "DLAB_MLFLOW_LOCK_TIMEOUT"
DEFAULT_TIMEOUT_S = 300.0


def lock_path(uri: str) -> Path:
    """The lock file of the store at ``uri`` (beside a local database, else in the temp folder)."""
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite" and uri.startswith("sqlite:///"):
        database = uri.split("sqlite:///", 1)[1].split("?", 1)[0]
        if database and database != ":memory:":
            return Path(database + ".dlab-lock")
    if parsed.scheme in ("", "file"):  # a file store (a folder): the lock beside it, not inside
        folder = Path(parsed.path or uri)
        return folder.parent / (folder.name + ".dlab-lock")
    digest = hashlib.sha256(uri.encode("utf-8")).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"dlab-mlflow-{digest}.lock"


def timeout_s() -> float:
    """The deadline from ``DLAB_MLFLOW_LOCK_TIMEOUT`` (seconds), else 300.

    Raises:
        UsageError: a value that is not a number of seconds.
    """
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise UsageError(f"{TIMEOUT_VARIABLE}={text!r}: give the seconds to wait for the MLflow store lock.")
    return value


@contextmanager
def store_lock(uri: str, doing: str) -> Iterator[None]:
    """Hold the store's lock while ``doing`` (for the message) happens.

    Raises:
        UsageError: the lock was not free within the deadline, or its file cannot be created.
    """
    path = lock_path(uri)
    limit = timeout_s()
    lock = FileLock(path, timeout=limit, thread_local=False, is_singleton=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:  # before OSError: filelock's Timeout is a TimeoutError
        raise UsageError(
            f"MLflow store '{uri}': another process has held its lock ({path}) for more than "
            f"{limit:g} s, so {doing} did not start. Wait for that process (a run logging to "
            f"MLflow, another mlflow-sync) to end, then try again; {TIMEOUT_VARIABLE} sets how "
            "many seconds to wait."
        ) from None
    except OSError as error:
        raise UsageError(
            f"MLflow store '{uri}': cannot create its lock file {path} ({error.strerror or error}); "
            "the store's folder must be writable. Give another --mlflow-uri."
        ) from None
    try:
        yield
    finally:
        lock.release()
